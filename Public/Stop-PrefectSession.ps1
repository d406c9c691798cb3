function Stop-PrefectSession {
    <#
    .SYNOPSIS
    Ends the PrefectWin backend of this PowerShell session; the next command starts a new one.

    .DESCRIPTION
    Closes the backend's standard input, on which it exits by itself, and waits for it. A
    backend that has not exited after -TimeoutSec is stopped. The next PrefectWin command starts
    a new backend. Without a running backend this does nothing.

    .PARAMETER TimeoutSec
    How long to wait for the backend to exit. Default 10 seconds.

    .PARAMETER PassThru
    Returns the ended backend as a PrefectWin.Session object (Status Closed), with the number
    of requests it served.

    .EXAMPLE
    Stop-PrefectSession

    Ends the backend, if one runs.

    .EXAMPLE
    Start-PrefectSession; Get-PrefectService -Name 'PrefectServer'; Stop-PrefectSession -PassThru

    Runs a command, then ends the backend and shows how many requests it served.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.Session

    .LINK
    Start-PrefectSession
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 10,

        [Parameter()]
        [switch] $PassThru
    )
    if (-not $PSCmdlet.ShouldProcess('PrefectWin backend', 'Stop the backend process')) {
        return
    }
    $session = Close-PrefectBackendSession -TimeoutSec $TimeoutSec
    if ($PassThru -and $null -ne $session) {
        $session
    }
}
