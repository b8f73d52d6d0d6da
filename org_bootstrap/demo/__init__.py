"""The offline demo: a simulated organization on a moto server, the demo run, and the stand-ins for what
moto lacks (standins/). Only org_bootstrap.commands imports it: nothing that deploys to or reviews a real
organization depends on the simulation."""
