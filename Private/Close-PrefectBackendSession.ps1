function Close-PrefectBackendSession {
    <#
    .SYNOPSIS
    Ends the module's backend (Stop-PrefectSession) and returns its last PrefectWin.Session
    object, Status Closed; nothing when none runs. The next command starts a new backend.

    .PARAMETER TimeoutSec
    How long to wait for the backend to exit after its stdin closes; then it is killed.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Session')]
    param(
        [Parameter()] [ValidateRange(1, 3600)] [int] $TimeoutSec = 10
    )
    $info = Get-PrefectBackendSession
    if ($null -eq $info) {
        Write-Verbose -Message 'No PrefectWin backend is running.'
        return
    }
    Stop-PrefectBackend -Backend $script:PrefectWinBackend -TimeoutSec $TimeoutSec
    $info.Status = 'Closed'
    $info
}
