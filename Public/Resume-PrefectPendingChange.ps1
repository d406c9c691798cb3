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
    Which interrupted change to finish, by the plan id Get-PrefectPendingChange shows (or
    piped in by property name); by default the only one there is.

    .EXAMPLE
    Resume-PrefectPendingChange -WhatIf

    Lists the steps of the only interrupted change that are still to run, and runs none.

    .EXAMPLE
    Get-PrefectPendingChange | Where-Object -Property Command -EQ 'service.install' | Resume-PrefectPendingChange -Confirm:$false

    Finishes every interrupted service installation, without asking about each step.

    .INPUTS
    PrefectWin.PendingChange, or any object with a PlanId property.

    .OUTPUTS
    PrefectWin.ChangeRecovery

    .LINK
    Get-PrefectPendingChange

    .LINK
    Undo-PrefectPendingChange
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
