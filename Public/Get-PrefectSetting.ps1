function Get-PrefectSetting {
    <#
    .SYNOPSIS
    Shows Prefect settings: the value that wins, where it comes from, and the profile in use.

    .DESCRIPTION
    Asks Prefect itself, in the interpreter Prefect runs under, for its effective settings and
    returns one PrefectWin.Setting per setting with the properties Name (the canonical name),
    Aliases (legacy names that mean the same setting), Value, Source, Profile and IsSecret.

    Source says which of Prefect's sources supplied the value, exactly as
    'prefect config view --show-sources' decides it: env:NAME (the environment variable that
    set it, which may be a legacy alias), .env, prefect.toml or pyproject.toml (in the current
    directory), profile:NAME, or default. Nothing here re-implements Prefect's resolution.

    Legacy names are accepted: PREFECT_API_DATABASE_TIMEOUT means
    PREFECT_SERVER_DATABASE_TIMEOUT. An unknown name is an error that names the closest valid
    setting. Secret values are shown as ******** unless -ShowSecret is given.

    .PARAMETER Name
    One or more setting names or legacy aliases; wildcards are allowed (PREFECT_SERVER_*).
    Without it, every setting that is not at its default is returned, as 'prefect config view'
    shows them.

    .PARAMETER PythonPath
    The interpreter Prefect runs under (for a service: its python.exe). By default, the
    interpreter that runs the PrefectWin backend.

    .PARAMETER Profile
    Resolves the settings as if this Prefect profile were active. By default, the active
    profile (PREFECT_PROFILE, or the 'active' entry of profiles.toml).

    .PARAMETER ShowSecret
    Shows the values of secret settings (API keys, database passwords) instead of ********.

    .EXAMPLE
    Get-PrefectSetting

    Lists every setting that is not at its default, with the source that set it.

    .EXAMPLE
    Get-PrefectSetting -Name 'PREFECT_API_DATABASE_TIMEOUT', 'PREFECT_API_URL'

    Shows PREFECT_SERVER_DATABASE_TIMEOUT (the legacy name is accepted) and PREFECT_API_URL,
    for example with Source env:PREFECT_API_DATABASE_TIMEOUT and profile:local.

    .EXAMPLE
    Get-PrefectSetting -Name 'PREFECT_SERVER_DATABASE_*' -PythonPath C:\Prefect\venv\Scripts\python.exe -Profile server

    Shows the server's database settings as that interpreter sees them with the 'server' profile.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.Setting

    .LINK
    Set-PrefectSetting

    .LINK
    Remove-PrefectSetting
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSAvoidAssignmentToAutomaticVariable', '', Justification = '-Profile is the Prefect profile the issue names; $PROFILE is never used in this function.')]
    [CmdletBinding()]
    [OutputType('PrefectWin.Setting')]
    param(
        [Parameter(Position = 0)]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter()]
        [string] $PythonPath,

        [Parameter()]
        [string] $Profile,

        [Parameter()]
        [switch] $ShowSecret
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'setting.get' -Parameters $parameters |
        ConvertTo-PrefectObject -TypeName 'Setting'
}
