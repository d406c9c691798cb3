function Undo-PrefectPendingChange {
    <#
    .SYNOPSIS
    Rolls back a change that a killed PrefectWin backend left half done.

    .DESCRIPTION
    Undoes the steps of the interrupted change that were done, last first, and the step that
    was cut while in progress (as far as it happened), so that the machine is as it was
    before the change. Each undo step goes through ShouldProcess: -WhatIf lists them,
    -Confirm asks about each.

    What cannot be undone (a removed service, a deleted file, the password of a previous
    account, a value the journal does not keep because it is secret) is named in a warning and
    in NotReversible.

    .PARAMETER PlanId
    The plan id of the interrupted change (Get-PrefectPendingChange lists them). Accepts
    pipeline input by property name. By default, the only interrupted change.

    .EXAMPLE
    Undo-PrefectPendingChange -WhatIf

    Shows what would be done for the only interrupted change, and changes nothing.

    .EXAMPLE
    Get-PrefectPendingChange | Undo-PrefectPendingChange -Confirm:$false

    Does it for every interrupted change, without asking.

    .INPUTS
    Objects with a PlanId property, such as PrefectWin.PendingChange.

    .OUTPUTS
    PrefectWin.ChangeRecovery

    .LINK
    Get-PrefectPendingChange
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.ChangeRecovery')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string] $PlanId
    )
    process {
        $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'change.undo' -Parameters $parameters -Target 'interrupted PrefectWin change' |
            ConvertTo-PrefectObject -TypeName 'ChangeRecovery'
    }
}
