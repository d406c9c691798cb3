function Invoke-PrefectPlan {
    <#
    .SYNOPSIS
    Runs a state-changing backend command behind ShouldProcess: plan, confirm each action, apply
    the confirmed ones.

    .DESCRIPTION
    The uniform ShouldProcess helper of every state-changing cmdlet (docs/development.md,
    "State-changing commands"):
      1. asks the backend for the plan (whatIf:true): its planId, fingerprint and 'actions', each
         with an id and the ids it depends on;
      2. with -WhatIf, calls $Cmdlet.ShouldProcess($Target, <description>) for every action, so
         each is listed, and returns the plan;
      3. otherwise asks ShouldProcess for each action in plan order (the backend orders them so
         that an action comes after what it depends on). A declined action is skipped, and so
         is every action that depends on one that is skipped, without asking;
      4. sends the apply request: the plan's id, the confirmed ids and the plan as shown, so the
         backend runs exactly that plan (by id in a session, else after re-planning to the same
         plan) or refuses with PrefectWin.PlanStale. Nothing is sent when every action was
         declined, nor for an empty plan unless -ApplyEmpty (an empty plan still waits for, or
         returns, the service).
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

    .PARAMETER ApplyEmpty
    Sends the apply request for an empty plan too (Install-PrefectService -Wait or -PassThru).

    .PARAMETER TimeoutSec
    Passed on to Invoke-PrefectBackend.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSShouldProcess', '', Justification = 'ShouldProcess is called on the calling cmdlet, which declares SupportsShouldProcess.')]
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)] [object] $Cmdlet,
        [Parameter(Mandatory = $true)] [string] $Command,
        [Parameter()] [System.Collections.IDictionary] $Parameters = @{},
        [Parameter(Mandatory = $true)] [string] $Target,
        [Parameter()] [switch] $ApplyEmpty,
        [Parameter()] [ValidateRange(1, 86400)] [int] $TimeoutSec = 600
    )
    # ShouldProcess below reads $WhatIfPreference and $ConfirmPreference here, not in the caller.
    Import-PrefectCallerPreference -Cmdlet $Cmdlet -Name 'WhatIfPreference', 'ConfirmPreference'
    $plan = Invoke-PrefectBackend -Cmdlet $Cmdlet -Command $Command -Parameters $Parameters -WhatIf -TimeoutSec $TimeoutSec
    if ($null -eq $plan) {
        # The backend reported an error, which Invoke-PrefectBackend has written.
        return
    }
    # Every state-changing command's plan has its 'actions' (registry.py refuses one that does
    # not), each with an id, a description and the ids it depends on (change/model.py).
    $actions = @($plan.actions)
    $confirmed = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $skipped = New-Object -TypeName 'System.Collections.Generic.HashSet[string]'
    foreach ($action in $actions) {
        $description = [string](Get-PrefectField -InputObject $action -Name 'description')
        $id = [string](Get-PrefectField -InputObject $action -Name 'id')
        $needs = Get-PrefectField -InputObject $action -Name 'dependsOn'
        $blocking = @($needs | Where-Object -FilterScript { $null -ne $_ -and $skipped.Contains([string]$_) })
        if ($blocking.Count -gt 0 -and -not $WhatIfPreference) {
            Write-Verbose -Message "Skipped: $description (it needs $($blocking -join ', '), which was declined)."
            $null = $skipped.Add($id)
        } elseif ($Cmdlet.ShouldProcess($Target, $description)) {
            $confirmed.Add($id)
        } else {
            $null = $skipped.Add($id)
        }
    }
    if ($WhatIfPreference) {
        return $plan
    }
    if ($actions.Count -eq 0 -and -not $ApplyEmpty) {
        Write-Verbose -Message "$Target is already as requested; nothing to change."
        return $plan
    }
    if ($actions.Count -gt 0 -and $confirmed.Count -eq 0) {
        Write-Verbose -Message "Nothing was changed on ${Target}: $($actions.Count) action(s) planned, none confirmed."
        return $plan
    }
    # The plan as it was shown, as the backend gave it: what it compares when it has to plan again.
    $apply = @{
        planId = Get-PrefectField -InputObject $plan -Name 'planId'
        confirm = $confirmed.ToArray()
        plan = @{
            fingerprint = Get-PrefectField -InputObject $plan -Name 'fingerprint'
            actions = $actions
        }
    }
    Invoke-PrefectBackend -Cmdlet $Cmdlet -Command $Command -Parameters $Parameters -Apply $apply -TimeoutSec $TimeoutSec
}
