function Get-PrefectSession {
    <#
    .SYNOPSIS
    Shows the persistent PrefectWin backend of this PowerShell session, if one is open.

    .DESCRIPTION
    Returns one PrefectWin.Session object while a session is open (see Start-PrefectSession),
    and nothing otherwise. Status is Running, Exited (the backend died between commands; the
    next command starts a new one) or Idle (its backend was stopped after a time-out or a lost
    request, and the next command starts a new one). Requests counts the answered requests,
    Starts the backend processes started so far.

    .EXAMPLE
    Get-PrefectSession

    Shows whether a session is open, and its backend's process id.

    .EXAMPLE
    if (-not (Get-PrefectSession)) { Start-PrefectSession }

    Opens a session unless one is open already.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.Session

    .LINK
    Start-PrefectSession

    .LINK
    Stop-PrefectSession
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param()
    Get-PrefectBackendSession
}
