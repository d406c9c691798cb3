function Start-PrefectSession {
    <#
    .SYNOPSIS
    Starts a persistent PrefectWin backend, so that the following PrefectWin commands do not
    each pay for starting Python.

    .DESCRIPTION
    Without a session every PrefectWin command starts one Python process for its request
    (about a tenth of a second before any work is done). Start-PrefectSession starts one
    'python -m prefectwin serve' process instead, checks that it answers, and from then on every
    PrefectWin command in this PowerShell session (runspace) sends its request there, as one
    JSON line with an id. Long runbooks and DSC Test passes gain the most.

    Nothing else changes: the same requests, answers, errors, -Verbose and progress. Relative
    paths still mean what they mean at the prompt (each request carries the current location).

    If the backend process dies between two commands, the next command starts a new one (with
    a warning). If it dies while serving a command, that command fails with the error
    PrefectWin.SessionLost, and the next command starts a new one. A command that times out
    stops the process too. Stop-PrefectSession ends the session; removing the module or closing
    PowerShell ends it as well.

    Calling Start-PrefectSession while a session is open changes nothing.

    .PARAMETER TimeoutSec
    How long the new backend may take to answer its first request. Default 60 seconds.

    .PARAMETER PassThru
    Returns the session as a PrefectWin.Session object.

    .EXAMPLE
    Start-PrefectSession; Get-PrefectService; Test-PrefectEnvironment -Check 'windows.nssm'; Stop-PrefectSession

    Runs two commands through one backend process, then ends the session.

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
    if (-not $PSCmdlet.ShouldProcess('PrefectWin backend session', 'Start a persistent backend process')) {
        return
    }
    $session = Open-PrefectBackendSession -Cmdlet $PSCmdlet -TimeoutSec $TimeoutSec
    if ($PassThru) {
        $session
    }
}
