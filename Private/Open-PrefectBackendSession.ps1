function Open-PrefectBackendSession {
    <#
    .SYNOPSIS
    Starts the module's backend now, unless it runs, and checks that it answers
    (Start-PrefectSession); returns it as a PrefectWin.Session object.

    .DESCRIPTION
    The check is a module.version request through the bridge, so a backend that cannot serve
    fails here (PrefectWin.BridgeFailed, with its stderr) rather than at the first real
    command, and is not kept. With $env:PREFECTWIN_BACKEND = 'PerCall' no backend is kept: the
    check runs in a backend of its own, and nothing is returned.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet: errors are thrown through it.

    .PARAMETER TimeoutSec
    How long the answer may take (interpreter start-up included).
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter(Mandatory = $true)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter()] [ValidateRange(1, 86400)] [int] $TimeoutSec = 60
    )
    $version = Invoke-PrefectBackend -Cmdlet $Cmdlet -Command 'module.version' -TimeoutSec $TimeoutSec
    if ($null -eq $version) {
        # module.version answered ok:false, and its error is written: the backend cannot serve.
        $null = Close-PrefectBackendSession -TimeoutSec 5
        $Cmdlet.ThrowTerminatingError((New-PrefectBridgeError -Code 'BridgeFailed' -Command 'module.version' -Problem 'it did not answer module.version' -Backend @{}))
    }
    if ($null -ne $script:PrefectWinBackend) {
        $script:PrefectWinBackend.Version = [string](Get-PrefectField -InputObject $version -Name 'version')
    }
    Get-PrefectBackendSession
}
