function Remove-PrefectPendingChange {
    <#
    .SYNOPSIS
    Drops the record of an interrupted change, changing nothing else.

    .DESCRIPTION
    Removes the journal record of an interrupted change, after it has been finished or fixed
    by hand (for example by running the original command again), so that PrefectWin commands
    stop warning about it. Nothing else on the machine is changed.

    .PARAMETER PlanId
    The record to drop, named by its plan id (as Get-PrefectPendingChange lists it, or from
    the pipeline by property name). When omitted, the only interrupted change's record.

    .EXAMPLE
    Remove-PrefectPendingChange -PlanId '3f2a9c1d04be'

    Drops the record of that change, once the original command has been run again by hand.

    .EXAMPLE
    Get-PrefectPendingChange | Remove-PrefectPendingChange -WhatIf

    Names every record that would be dropped, and drops none.

    .INPUTS
    PrefectWin.PendingChange, or any object with a PlanId property.

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
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'change.forget' -Parameters $parameters -Target 'interrupted PrefectWin change' |
            ConvertTo-PrefectObject -TypeName 'ChangeRecovery'
    }
}
