@{
    RootModule = 'PrefectWin.psm1'
    ModuleVersion = '0.1.0'
    GUID = '15b674c0-b7c3-43a9-8966-03f1bb98cda9'
    Author = 'PrefectWin developers'
    CompanyName = 'PrefectWin'
    Copyright = '(c) PrefectWin developers. Apache-2.0.'
    Description = 'Self-host Prefect 3 on Windows: check, plan, apply and repair the server, workers and their services from PowerShell.'
    PowerShellVersion = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess = @('PrefectWin.Format.ps1xml')

    # One name per line (parallel additions merge cleanly), sorted; tests/Module.Tests.ps1
    # requires this list to equal the files in Public/ exactly.
    FunctionsToExport = @(
        'Backup-PrefectDatabase',
        'Get-PrefectPendingChange',
        'Get-PrefectService',
        'Get-PrefectServiceLog',
        'Get-PrefectSession',
        'Get-PrefectSetting',
        'Install-PrefectService',
        'Install-PrefectStack',
        'Remove-PrefectPendingChange',
        'Remove-PrefectSetting',
        'Repair-PrefectEnvironment',
        'Restart-PrefectService',
        'Restore-PrefectDatabase',
        'Resume-PrefectPendingChange',
        'Set-PrefectSetting',
        'Start-PrefectSession',
        'Stop-PrefectSession',
        'Test-PrefectEnvironment',
        'Undo-PrefectPendingChange',
        'Uninstall-PrefectService',
        'Update-PrefectService',
        'Wait-PrefectService'
    )
    # The [DscResource()] classes of PrefectWin.psm1, sorted; tests/DscShape.Tests.ps1 requires
    # this list to equal them exactly.
    DscResourcesToExport = @(
        'PrefectService',
        'PrefectSetting'
    )
    CmdletsToExport = @()
    AliasesToExport = @()
    VariablesToExport = @()

    PrivateData = @{
        PSData = @{
            Tags = @('Prefect', 'Windows', 'Service', 'Orchestration', 'DSC')
            LicenseUri = 'https://www.apache.org/licenses/LICENSE-2.0'
        }
    }
}
