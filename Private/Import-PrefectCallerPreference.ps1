function Import-PrefectCallerPreference {
    <#
    .SYNOPSIS
    Gives the calling module function the caller's preference variables, unless the cmdlet was
    given the matching common parameter.

    .DESCRIPTION
    A function of a script module looks up $ErrorActionPreference and the other preference
    variables in its own scopes, then the module's, then the global one: never in the scope it
    was called from. So '$ErrorActionPreference = "Stop"' inside a runbook's function, or
    '$WarningPreference = "SilentlyContinue"' in a script block, would be ignored by every
    PrefectWin cmdlet. This function reads each preference from the caller's session state
    ($Cmdlet.SessionState) and sets it in the scope of the function that calls it (scope 1),
    where the cmdlet's WriteError, ShouldProcess and the relayed Write-Verbose, Write-Warning,
    Write-Information, Write-Debug and Write-Progress calls find it. A common parameter given
    to the cmdlet (-ErrorAction, -Verbose, -WhatIf, ...) has set the preference in the cmdlet's
    own scope already, and wins.

    .PARAMETER Cmdlet
    The public cmdlet's $PSCmdlet.

    .PARAMETER Name
    The preference variables to import.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Sets preference variables in the calling function''s scope; changes no system state.')]
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)] [object] $Cmdlet,
        [Parameter()] [ValidateSet('ErrorActionPreference', 'WarningPreference', 'VerbosePreference', 'InformationPreference', 'DebugPreference', 'ProgressPreference', 'WhatIfPreference', 'ConfirmPreference')] [string[]] $Name = @('ErrorActionPreference', 'WarningPreference', 'VerbosePreference', 'InformationPreference', 'DebugPreference', 'ProgressPreference')
    )
    $bound = $Cmdlet.MyInvocation.BoundParameters
    foreach ($variable in $Name) {
        # The common parameter of ErrorActionPreference is -ErrorAction, of VerbosePreference -Verbose.
        $stem = $variable -replace 'Preference$', ''
        if ($bound.ContainsKey($stem) -or $bound.ContainsKey($stem + 'Action')) {
            continue
        }
        $callerVariable = $Cmdlet.SessionState.PSVariable.Get($variable)
        if ($null -ne $callerVariable) {
            Set-Variable -Name $variable -Value $callerVariable.Value -Scope 1 -WhatIf:$false -Confirm:$false
        }
    }
}
