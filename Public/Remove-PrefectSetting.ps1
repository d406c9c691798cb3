function Remove-PrefectSetting {
    <#
    .SYNOPSIS
    Removes a Prefect setting from a profile, this session, or a persistent User or Machine
    environment variable.

    .DESCRIPTION
    Removes the setting, and every legacy alias of it, from the one scope named by -Scope, so
    that Prefect falls back to the next source (see Get-PrefectSetting). Removing a setting
    that is not there changes nothing and is not an error.

    -Scope Profile (the default) changes profiles.toml through Prefect's own profile API.
    -Scope User and Machine remove persistent Windows environment variables (Machine needs
    administrator rights). -Scope Process removes the variable from this PowerShell session.

    Every removal goes through ShouldProcess: -WhatIf lists what would be removed.

    .PARAMETER Name
    The setting, by canonical name or legacy alias, for example PREFECT_API_URL.

    .PARAMETER Scope
    Where to remove it from: Profile (the default), Process, User or Machine.

    .PARAMETER Profile
    The profile to change, with -Scope Profile. By default, the active profile.

    .PARAMETER PythonPath
    The interpreter Prefect runs under (for a service: its python.exe). By default, the
    interpreter that runs the PrefectWin backend.

    .EXAMPLE
    Remove-PrefectSetting -Name PREFECT_API_URL -WhatIf

    Shows that PREFECT_API_URL would be removed from the active profile, and changes nothing.

    .EXAMPLE
    Remove-PrefectSetting -Name PREFECT_SERVER_DATABASE_TIMEOUT -Scope User

    Removes PREFECT_SERVER_DATABASE_TIMEOUT and its legacy alias PREFECT_API_DATABASE_TIMEOUT
    from the user's persistent environment.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.SettingChange

    .LINK
    Set-PrefectSetting

    .LINK
    Get-PrefectSetting
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidAssignmentToAutomaticVariable', '', Justification = '-Profile is the Prefect profile the issue names; $PROFILE is never used in this function.')]
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.SettingChange')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Name,

        [Parameter()]
        [ValidateSet('Profile', 'Process', 'User', 'Machine')]
        [string] $Scope,

        [Parameter()]
        [string] $Profile,

        [Parameter()]
        [string] $PythonPath
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    $change = Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'setting.remove' -Parameters $parameters -Target $Name
    if ($null -eq $change) {
        return
    }
    # -Scope Process: remove from this session what the backend returned; empty under -WhatIf.
    Set-PrefectSessionEnvironment -Assignment $change.environment
    # The assignments carry plain values (a secret setting's too): applied above, never output.
    $change | ConvertTo-PrefectObject -TypeName 'SettingChange' -ExcludeProperty 'environment'
}
