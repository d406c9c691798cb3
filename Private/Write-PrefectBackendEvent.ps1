# The Write-Progress Id of a request's first activity; the next ones count up from it. Callers
# number their own bars from 0 (Write-Progress's default Id), and a record with the same Id
# would overwrite, and on completion close, the caller's bar. 0x50570000 ('PW') is far from
# anything a script numbers by hand.
$script:PrefectWinProgressBaseId = 0x50570000

function Write-PrefectBackendEvent {
    <#
    .SYNOPSIS
    Relays one event of the backend to the matching PowerShell stream.

    .DESCRIPTION
    {"level":"verbose|warning|information|debug","message":...} goes to Write-Verbose,
    Write-Warning, Write-Information or Write-Debug; {"progress":{"activity","status","percent"}}
    goes to Write-Progress, one bar per activity, with an Id of the module's own range
    ($script:PrefectWinProgressBaseId and up) so that the caller's bars are left alone.

    .PARAMETER Record
    The event, parsed from its stdout line.

    .PARAMETER Activity
    The request's progress activities so far; an activity's index is its bar's offset.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [object] $Record,
        [Parameter(Mandatory = $true)] [AllowEmptyCollection()] [System.Collections.Generic.List[string]] $Activity
    )
    # The backend (events.py) always sends an activity and a status that are never empty, and a
    # percentage (or null) from 0 to 100.
    $progress = Get-PrefectField -InputObject $Record -Name 'progress'
    if ($null -ne $progress) {
        if (-not $Activity.Contains($progress.activity)) {
            $Activity.Add($progress.activity)
        }
        $bar = @{ Activity = $progress.activity; Status = $progress.status; Id = $script:PrefectWinProgressBaseId + $Activity.IndexOf($progress.activity) }
        if ($null -ne $progress.percent) {
            $bar['PercentComplete'] = [int]$progress.percent
        }
        Write-Progress @bar
        return
    }
    $message = [string](Get-PrefectField -InputObject $Record -Name 'message')
    switch ([string](Get-PrefectField -InputObject $Record -Name 'level')) {
        'verbose' {
            Write-Verbose -Message $message
        }
        'warning' {
            Write-Warning -Message $message
        }
        'information' {
            Write-Information -MessageData $message -Tags 'PrefectWin'
        }
        default {
            Write-Debug -Message $message
        }
    }
}
