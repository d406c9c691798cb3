function Get-PrefectBackendSession {
    <#
    .SYNOPSIS
    The module's backend as a PrefectWin.Session object (Get-PrefectSession), or nothing while
    none runs.

    .DESCRIPTION
    Status is Running, or Exited when the process died since its last answer (the next command
    starts a new one, with a warning). Requests counts the answers it gave, Starts the backends
    this module started in this runspace so far.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param()
    $backend = $script:PrefectWinBackend
    if ($null -eq $backend) {
        return
    }
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.Session'
        Status = $(if ($backend.Process.HasExited) { 'Exited' } else { 'Running' })
        ProcessId = $backend.ProcessId
        PythonPath = [string]$backend.Python.Path
        Version = $backend.Version
        Requests = $backend.Requests
        Starts = $script:PrefectWinBackendStarts
        StartTime = $backend.StartTime
    }
}
