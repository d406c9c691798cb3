function Stop-PrefectSession {
    <#
    .SYNOPSIS
    Ends the persistent PrefectWin backend that Start-PrefectSession started.

    .DESCRIPTION
    Closes the backend's standard input, on which it exits by itself, and waits for it. A
    backend that has not exited after -TimeoutSec is stopped. PrefectWin commands then start one
    Python process per request again. Without an open session this does nothing.

    .PARAMETER TimeoutSec
    How long to wait for the backend to exit. Default 10 seconds.

    .PARAMETER PassThru
    Returns the ended session as a PrefectWin.Session object (Status Closed), with the number
    of requests it served.

    .EXAMPLE
    Stop-PrefectSession

    Ends the session, if one is open.

    .EXAMPLE
    Start-PrefectSession; Get-PrefectService -Name 'PrefectServer'; Stop-PrefectSession -PassThru

    Runs a command through a session, then shows how many requests the session served.

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
    if (-not $PSCmdlet.ShouldProcess('PrefectWin backend session', 'Stop the persistent backend process')) {
        return
    }
    $session = Close-PrefectBackendSession -TimeoutSec $TimeoutSec
    if ($PassThru -and $null -ne $session) {
        $session
    }
}
