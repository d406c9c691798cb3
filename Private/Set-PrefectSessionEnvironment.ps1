function Set-PrefectSessionEnvironment {
    <#
    .SYNOPSIS
    Applies the backend's environment assignments ({name, value}) to this PowerShell process;
    a null value removes the variable.

    .DESCRIPTION
    The backend cannot reach the caller's process, so Set-PrefectSetting, Remove-PrefectSetting
    (Scope Process) and Repair-PrefectEnvironment (user variables a fix set) hand their
    assignments to this function. A removal must not be
    [System.Environment]::SetEnvironmentVariable(name, $null): PowerShell passes $null to a
    [string] parameter as '', and .NET on Linux and macOS keeps an empty variable, which Prefect
    then reads as a value ('' is no valid boolean, port or URL). [NullString]::Value is a real
    null, which removes the variable everywhere.

    .PARAMETER Assignment
    The assignments, as the backend's result lists them.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Applies a change the calling cmdlet confirmed with ShouldProcess.')]
    [CmdletBinding()]
    param(
        [Parameter()] [AllowNull()] [AllowEmptyCollection()] [object[]] $Assignment = @()
    )
    foreach ($item in @($Assignment | Where-Object -FilterScript { $null -ne $_ })) {
        $name = [string](Get-PrefectField -InputObject $item -Name 'name')
        $value = Get-PrefectField -InputObject $item -Name 'value'
        if ($null -eq $value) {
            [System.Environment]::SetEnvironmentVariable($name, [NullString]::Value)
        } else {
            [System.Environment]::SetEnvironmentVariable($name, [string]$value)
        }
    }
}
