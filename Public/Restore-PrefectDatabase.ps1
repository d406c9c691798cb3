function Restore-PrefectDatabase {
    <#
    .SYNOPSIS
    Puts a backup of a Prefect server's SQLite database back in place of the database.

    .DESCRIPTION
    Replaces the database with an exact copy of a backup that Backup-PrefectDatabase wrote, so
    that afterwards the database is the backup, byte for byte. The current database is first
    kept as a backup of its own (backups\<name>-before-restore-<time>.db), so nothing is lost.

    The backup must pass SQLite's integrity check and be a Prefect database (it records a
    migration revision). A database that a running server still has open is refused: stop the
    server and its workers first (Stop-Service), restore, then start them again. The
    replacement is atomic: if it fails, the database is as it was and the safety copy is
    removed again.

    .PARAMETER BackupPath
    The backup file to restore.

    .PARAMETER Path
    The SQLite database file to replace. By default, the one Prefect's settings name.

    .PARAMETER PrefectHome
    The PREFECT_HOME whose settings name the database, when -Path is not given.

    .PARAMETER PythonPath
    The interpreter that runs the Prefect server; by default the backend's own.

    .EXAMPLE
    Stop-Service -Name PrefectServer; Restore-PrefectDatabase -BackupPath 'C:\ProgramData\Prefect\backups\prefect-20261201T020000Z.db' -PrefectHome 'C:\ProgramData\Prefect'; Start-Service -Name PrefectServer

    Restores last night's backup with the server stopped, after confirming each step.

    .EXAMPLE
    Restore-PrefectDatabase -BackupPath '.\prefect-before-upgrade.db' -Path 'D:\Prefect\prefect.db' -WhatIf

    Shows the safety copy and the replacement that would be made, and changes nothing.

    .INPUTS
    None.

    .OUTPUTS
    PrefectWin.DatabaseBackup

    .LINK
    Backup-PrefectDatabase
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    [OutputType('PrefectWin.DatabaseBackup')]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [string] $BackupPath,

        [Parameter()]
        [string] $Path,

        [Parameter()]
        [string] $PrefectHome,

        [Parameter()]
        [string] $PythonPath
    )
    $parameters = ConvertTo-PrefectParameter -BoundParameters $PSBoundParameters
    Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'database.restore' -Parameters $parameters -Target 'Prefect database' |
        ConvertTo-PrefectObject -TypeName 'DatabaseBackup'
}
