function Get-PrefectPendingChange {
    <#
    .SYNOPSIS
    Lists the changes that a stopped or killed PrefectWin backend left half done.

    .DESCRIPTION
    PrefectWin writes a journal entry before each step of a change, under its data folder
    (%ProgramData%\PrefectWin\journal). When the backend is killed in the middle of a change (a
    time-out, a lost session, a reboot), the record stays, and every PrefectWin command warns
    about it until it is finished (Resume-PrefectPendingChange), rolled back
    (Undo-PrefectPendingChange) or dropped (Remove-PrefectPendingChange).

    Each PrefectWin.PendingChange names the command that was interrupted, how many of its steps
    were done, the step that was cut while in progress, and the plan's actions. The journal
    holds no secrets: passwords and credentials in URLs are never written to it.

    .EXAMPLE
    Get-PrefectPendingChange

    Lists the interrupted changes, with their plan ids and progress.

    .EXAMPLE
    Get-PrefectPendingChange | Select-Object -ExpandProperty Actions

    Shows every action of the interrupted plans.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.PendingChange

    .LINK
    Resume-PrefectPendingChange

    .LINK
    Undo-PrefectPendingChange
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.PendingChange')]
    param()
    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'change.pending' -Parameters @{} |
        ConvertTo-PrefectObject -TypeName 'PendingChange'
}
