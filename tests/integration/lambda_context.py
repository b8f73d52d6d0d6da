from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name: str = "access-key-remediator"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111111111111:function:access-key-remediator"
    aws_request_id: str = "0d7e2c1a-4b5f-4e6a-9c8d-7f1e2a3b4c5d"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
