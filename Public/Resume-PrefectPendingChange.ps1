function Resume-PrefectPendingChange {
    <#
    .SYNOPSIS
    Finishes a change that a killed PrefectWin backend left half done.

    .DESCRIPTION
    Runs the steps of the interrupted change that were not done, in their order; a step that
    was cut while in progress runs again (every step is safe to repeat). The steps go
    through ShouldProcess like those of any other plan: -WhatIf lists them, -Confirm asks
    about each, and declining one skips what depends on it.

    A step that needs a secret (a password the journal never keeps) cannot be finished from the
    journal: the error names the command to run again instead, which plans from the machine as
    it is now.

    .PARAMETER PlanId
    The plan id of the interrupted change (Get-PrefectPendingChange lists them). Accepts
    pipeline input by property name. By default, the only interrupted change.

    .EXAMPLE
    Resume-PrefectPendingChange -WhatIf

    Shows what would be done for the only interrupted change, and changes nothing.

    .EXAMPLE
    Get-PrefectPendingChange | Resume-PrefectPendingChange -Confirm:$false

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
        Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'change.resume' -Parameters $parameters -Target 'interrupted PrefectWin change' |
            ConvertTo-PrefectObject -TypeName 'ChangeRecovery'
    }
}
