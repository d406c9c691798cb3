function Get-PrefectSession {
    <#
    .SYNOPSIS
    Shows the PrefectWin backend of this PowerShell session, if one runs.

    .DESCRIPTION
    Returns one PrefectWin.Session object while the backend runs (the first PrefectWin command,
    or Start-PrefectSession, starts it), and nothing otherwise (none started yet, ended by
    Stop-PrefectSession, stopped after a lost or timed-out command, or
    $env:PREFECTWIN_BACKEND = 'PerCall'). ProcessId and PythonPath say which process serves,
    StartTime since when, Requests how many requests it answered, Starts how many backends this
    session started so far, and Version the PrefectWin version its check (Start-PrefectSession)
    reported. Status is Running, or Exited when the process died since its last answer (the
    next command starts a new one).

    .EXAMPLE
    Get-PrefectSession

    Shows whether a backend runs, and its process id.

    .EXAMPLE
    (Get-PrefectSession).Requests

    How many requests the running backend has answered.

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
