"""Reading and changing the organization's deployment: the deployment asked for and its plan, the Lambda
package, the stacks and the StackSet, the observed organization, status and coverage, teardown."""
