function Remove-PrefectPendingChange {
    <#
    .SYNOPSIS
    Drops the record of an interrupted change, changing nothing else.

    .DESCRIPTION
    Removes the journal record of an interrupted change, after it has been finished or fixed
    by hand (for example by running the original command again), so that PrefectWin commands
    stop warning about it. Nothing else on the machine is changed.

    .PARAMETER PlanId
    The plan id of the interrupted change (Get-PrefectPendingChange lists them). Accepts
    pipeline input by property name. By default, the only interrupted change.

    .EXAMPLE
    Remove-PrefectPendingChange -WhatIf

    Shows what would be done for the only interrupted change, and changes nothing.

    .EXAMPLE
    Get-PrefectPendingChange | Remove-PrefectPendingChange -Confirm:$false

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
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'change.forget' -Parameters $parameters -Target 'interrupted PrefectWin change' |
            ConvertTo-PrefectObject -TypeName 'ChangeRecovery'
    }
}
