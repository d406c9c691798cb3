function Start-PrefectSession {
    <#
    .SYNOPSIS
    Starts the PrefectWin backend of this PowerShell session now, and checks that it answers.

    .DESCRIPTION
    Every PrefectWin command sends its request to one 'python -m prefectwin serve' process per
    PowerShell session (runspace), which the first command starts by itself. Start-PrefectSession
    starts it now instead (or uses the running one) and asks it module.version, so that a
    backend that cannot serve fails here, with PrefectWin.BridgeFailed and its stderr, and is not
    kept. Calling it while the backend runs changes nothing but that check.

    Each request carries the current location and the whole current environment, so a change
    to $env: is seen by the next command, without a new process, and the backend answers what a
    fresh process would. If the backend dies between two commands, the next command starts a
    new one (with a warning); if it dies while serving a command, that command fails with
    PrefectWin.SessionLost; a command that times out stops it (PrefectWin.Timeout). Either way
    the next command starts a new one. Stop-PrefectSession, Remove-Module PrefectWin and the
    exit of PowerShell end it.

    With $env:PREFECTWIN_BACKEND = 'PerCall', no backend is kept: every command starts one that
    serves it and exits. Start-PrefectSession then only checks that a backend answers.

    .PARAMETER TimeoutSec
    How long the new backend may take to answer its first request. Default 60 seconds.

    .PARAMETER PassThru
    Returns the session as a PrefectWin.Session object.

    .EXAMPLE
    Start-PrefectSession; Get-PrefectService; Test-PrefectEnvironment -Check 'windows.nssm'; Stop-PrefectSession

    Checks the backend first, runs two commands through it, then ends it.

    .EXAMPLE
    Start-PrefectSession -PassThru | Format-List -Property 'ProcessId', 'PythonPath', 'Version'

    Starts the session and shows which interpreter and PrefectWin version serve it.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.Session

    .LINK
    Stop-PrefectSession

    .LINK
    Get-PrefectSession
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 60,

        [Parameter()]
        [switch] $PassThru
    )
    if (-not $PSCmdlet.ShouldProcess('PrefectWin backend', 'Start the backend process and check that it answers')) {
        return
    }
    $session = Open-PrefectBackendSession -Cmdlet $PSCmdlet -TimeoutSec $TimeoutSec
    if ($PassThru) {
        $session
    }
}
