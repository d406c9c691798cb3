function Set-PrefectSetting {
    <#
    .SYNOPSIS
    Changes a Prefect setting in the right place: a profile, this session, or a persistent
    User or Machine environment variable.

    .DESCRIPTION
    Before anything is written, Prefect's own settings model (in the interpreter Prefect runs
    under) validates the value: a port of 'abc' is refused and nothing changes. An unknown name
    is an error that names the closest valid setting; a legacy alias is written under its
    canonical name, and the alias is removed from the same scope (the canonical name wins).

    -Scope Profile (the default) writes profiles.toml through Prefect's own profile API, under
    PREFECT_HOME or PREFECT_PROFILES_PATH. -Scope User and Machine set persistent Windows
    environment variables (Machine needs administrator rights); new processes see them.
    -Scope Process sets the variable in this PowerShell session only.

    Every change goes through ShouldProcess: -WhatIf lists what would be written, -Confirm asks.
    A warning says when a stronger source (an environment variable, .env or prefect.toml) would
    still override a profile value, and when PREFECT_API_URL no longer matches a changed
    PREFECT_SERVER_API_PORT. Secret values never appear in plans, messages or errors.

    .PARAMETER Name
    The setting, by canonical name or legacy alias, for example PREFECT_SERVER_API_PORT.

    .PARAMETER Value
    The new value. Prefect validates it before anything is written.

    .PARAMETER Scope
    Where to write: Profile (the default), Process, User or Machine.

    .PARAMETER Profile
    The profile to change, with -Scope Profile. By default, the active profile.

    .PARAMETER PythonPath
    The interpreter Prefect runs under (for a service: its python.exe). By default, the
    interpreter that runs the PrefectWin backend.

    .PARAMETER SyncApiUrl
    When changing PREFECT_SERVER_API_PORT, also sets PREFECT_API_URL (in the same scope) to
    point at the new port.

    .EXAMPLE
    Set-PrefectSetting -Name PREFECT_SERVER_API_PORT -Value 4300 -SyncApiUrl -WhatIf

    Lists the two changes (the port and PREFECT_API_URL) that would be written to the active
    profile, without writing them.

    .EXAMPLE
    Set-PrefectSetting -Name PREFECT_API_URL -Value http://prefect01:4200/api -Profile worker

    Points the 'worker' profile at the server on prefect01.

    .EXAMPLE
    Set-PrefectSetting -Name PREFECT_API_DATABASE_TIMEOUT -Value 30 -Scope Process

    Sets PREFECT_SERVER_DATABASE_TIMEOUT=30 in this PowerShell session only (the legacy name
    is accepted and written under its canonical name).

    .EXAMPLE
    Set-PrefectSetting -Name PREFECT_HOME -Value D:\Prefect -Scope Machine

    Sets PREFECT_HOME for every account, services included (run as administrator). A mapped
    drive letter is refused, with its UNC path as the remedy.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.SettingChange

    .LINK
    Get-PrefectSetting

    .LINK
    Remove-PrefectSetting
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidAssignmentToAutomaticVariable', '', Justification = '-Profile is the Prefect profile the issue names; $PROFILE is never used in this function.')]
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType('PrefectWin.SettingChange')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $Name,

        [Parameter(Mandatory = $true, Position = 1)]
        [string] $Value,

        [Parameter()]
        [ValidateSet('Profile', 'Process', 'User', 'Machine')]
        [string] $Scope,

        [Parameter()]
        [string] $Profile,

        [Parameter()]
        [string] $PythonPath,

        [Parameter()]
        [switch] $SyncApiUrl
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    $change = Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'setting.set' -Parameters $parameters -Target $Name
    if ($null -eq $change) {
        return
    }
    # -Scope Process: set (or remove) in this session what the backend returned; empty under -WhatIf.
    Set-PrefectSessionEnvironment -Assignment $change.environment
    # The assignments carry plain values (a secret setting's too): applied above, never output.
    $change | ConvertTo-PrefectObject -TypeName 'SettingChange' -ExcludeProperty 'environment'
}
