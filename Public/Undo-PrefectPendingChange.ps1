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
    Which interrupted change to roll back: its plan id from Get-PrefectPendingChange, also
    taken from the pipeline by property name. Without it, the only interrupted change.

    .EXAMPLE
    Undo-PrefectPendingChange -Confirm

    Rolls back the only interrupted change, asking before each undo step.

    .EXAMPLE
    (Undo-PrefectPendingChange -PlanId '3f2a9c1d04be' -Confirm:$false).NotReversible

    Rolls back that change without asking, then lists what could not be put back.

    .INPUTS
    PrefectWin.PendingChange, or any object with a PlanId property.

    .OUTPUTS
    PrefectWin.ChangeRecovery

    .LINK
    Get-PrefectPendingChange

    .LINK
    Resume-PrefectPendingChange
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
