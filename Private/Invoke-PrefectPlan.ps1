function Invoke-PrefectPlan {
    <#
    .SYNOPSIS
    Runs a state-changing backend command behind ShouldProcess: plan, confirm each action, apply.

    .DESCRIPTION
    The uniform ShouldProcess helper of every state-changing cmdlet (docs/development.md,
    "State-changing commands"):
      1. asks the backend for the plan (whatIf:true), whose result lists 'actions';
      2. calls $Cmdlet.ShouldProcess($Target, <action description>) for EACH action, so -WhatIf
         lists every action and -Confirm asks about each one;
      3. returns the plan unapplied when it is empty, when -WhatIf is in effect, or when any
         action was declined (all or nothing; the backend never applies half a plan);
      4. otherwise sends the same request without whatIf, and returns what the backend applied.
    The calling cmdlet must declare [CmdletBinding(SupportsShouldProcess = $true)].

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet. Typed [object] so that the Pester tests can pass a stand-in
    whose ShouldProcess records each question; Invoke-PrefectBackend requires a real PSCmdlet.

    .PARAMETER Command
    The backend command, 'family.verb', registered with changes_state=True.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER Target
    What ShouldProcess names as the target, for example the service name.

    .PARAMETER TimeoutSec
    Passed on to Invoke-PrefectBackend.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSShouldProcess', '', Justification = 'ShouldProcess is called on the calling cmdlet, which declares SupportsShouldProcess.')]
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Cmdlet,

        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter(Mandatory = $true)]
        [string] $Target,

        [Parameter()]
        [ValidateRange(1, 86400)]
        [int] $TimeoutSec = 600
    )
    # ShouldProcess below reads $WhatIfPreference and $ConfirmPreference here, not in the caller.
    Import-PrefectCallerPreference -Cmdlet $Cmdlet -Name 'WhatIfPreference', 'ConfirmPreference'
    $plan = Invoke-PrefectBackend -Cmdlet $Cmdlet -Command $Command -Parameters $Parameters -WhatIf -TimeoutSec $TimeoutSec
    if ($null -eq $plan) {
        # The backend reported an error, which Invoke-PrefectBackend has written.
        return
    }
    $actions = Get-PrefectField -InputObject $plan -Name 'actions'
    if ($null -eq $actions) {
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'BridgeFailed'
            category = 'InvalidResult'
            message = "The plan of '$Command' has no 'actions'; a state-changing command must return them with whatIf."
            target = $Command
            remediation = 'Report this as a PrefectWin bug: see docs/development.md, State-changing commands.'
        }
        $Cmdlet.ThrowTerminatingError($record)
    }
    $actions = @($actions)
    $approved = $true
    foreach ($action in $actions) {
        $description = [string](Get-PrefectField -InputObject $action -Name 'description')
        if (-not $description) {
            $description = [string](Get-PrefectField -InputObject $action -Name 'kind')
        }
        if (-not $Cmdlet.ShouldProcess($Target, $description)) {
            $approved = $false
        }
    }
    if ($actions.Count -eq 0) {
        Write-Verbose -Message "$Target is already as requested; nothing to change."
        return $plan
    }
    if (-not $approved) {
        Write-Verbose -Message "Nothing was changed on ${Target}: $($actions.Count) action(s) planned, not all confirmed."
        return $plan
    }
    Invoke-PrefectBackend -Cmdlet $Cmdlet -Command $Command -Parameters $Parameters -TimeoutSec $TimeoutSec
}
