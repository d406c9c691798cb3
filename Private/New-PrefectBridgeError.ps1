function New-PrefectBridgeError {
    <#
    .SYNOPSIS
    The terminating ErrorRecord of a bridge that got no answer: PrefectWin.BridgeFailed,
    PrefectWin.Timeout or PrefectWin.SessionLost, with the backend's last stderr lines.

    .DESCRIPTION
    BridgeFailed: the backend could not be run, never answered, or answered with no protocol-1
    response. It also forgets the cached backend interpreter (Resolve-PrefectPython), so that
    the next command looks again once PREFECTWIN_PYTHON or the install is corrected.
    Timeout: stopped after -TimeoutSec. SessionLost: a backend that had answered before died
    while it served this request, whose effect is unknown.

    .PARAMETER Code
    BridgeFailed, Timeout or SessionLost.

    .PARAMETER Command
    The command that was sent.

    .PARAMETER Problem
    What went wrong, as the end of a sentence about the backend.

    .PARAMETER Backend
    The backend (Start-PrefectBackend), or a table with its Python and Tail.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Creates an object in memory; changes no system state.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory = $true)] [ValidateSet('BridgeFailed', 'Timeout', 'SessionLost')] [string] $Code,
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter(Mandatory = $true)] [string] $Problem,
        [Parameter(Mandatory = $true)] [object] $Backend
    )
    if ($Code -eq 'SessionLost') {
        $Problem += " and $($Backend.Ended)"
    }
    if ($Code -eq 'SessionLost' -and $Backend.Requests -eq 0) {
        # A backend that dies before its first answer cannot serve at all.
        $Code = 'BridgeFailed'
    }
    $interpreter = [string](Get-PrefectField -InputObject (Get-PrefectField -InputObject $Backend -Name 'Python') -Name 'Path')
    $processId = Get-PrefectField -InputObject $Backend -Name 'ProcessId'
    if ($Code -eq 'BridgeFailed') {
        $script:PrefectWinBackendPython = $null
    }
    $category, $message, $remediation = @{
        BridgeFailed = 'InvalidResult', "The PrefectWin backend ($interpreter) did not answer '$Command': $Problem.", "Check that '$interpreter -m prefectwin rpc --schema' works; run './build.ps1 Install' or set PREFECTWIN_PYTHON to a python.exe with the prefectwin package."
        Timeout = 'OperationTimeout', "The PrefectWin backend (process $processId) $Problem while it served '$Command', and was stopped; the next command starts a new one.", 'Run the command again with -Verbose to see where it stopped.'
        SessionLost = 'ResourceUnavailable', "The PrefectWin backend (process $processId) $Problem while it served '$Command'. Whether '$Command' took effect is unknown; the next command starts a new backend.", "Check the state '$Command' was meant to change (for example with Get-PrefectService), then run it again. If this repeats, run it with -Debug."
    }[$Code]
    $tail = Get-PrefectField -InputObject $Backend -Name 'Tail'
    $lines = @($tail | Where-Object -FilterScript { $_ })
    if ($lines.Count -gt 0) {
        $message += [System.Environment]::NewLine + 'Its stderr ended with:' + [System.Environment]::NewLine + ($lines -join [System.Environment]::NewLine)
    }
    New-PrefectErrorRecord -ErrorObject @{ code = $Code; category = $category; message = $message; target = $Command; remediation = $remediation }
}
