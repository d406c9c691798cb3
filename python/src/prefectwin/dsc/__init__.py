"""DSC as one more front on read state, plan and apply (DscResource.Base's GetCurrentState,
Compare and Modify): the instance models and each resource's rules. The `dsc.*` commands
(prefectwin/commands/dsc.py) serve both the PowerShell classes and the DSC v3 manifests
(dsc/*.dsc.resource.json, through `prefectwin dsc <operation>`)."""
