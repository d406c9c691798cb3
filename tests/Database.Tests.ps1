#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Backup-PrefectDatabase and Restore-PrefectDatabase end to end: the real module, the real
    backend and a real Prefect database (migrated by 'prefect server database upgrade'), no
    mocks.
#>

BeforeAll {
    $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force
    $python = $env:PREFECTWIN_PYTHON
    if (-not $python) {
        $python = & (Get-Module -Name 'PrefectWin') { (Resolve-PrefectPython -Force).Path }
    }
    $script:workHome = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('prefectwin-db-' + [guid]::NewGuid().ToString('N'))
    $null = New-Item -Path $script:workHome -ItemType Directory
    $previousHome = $env:PREFECT_HOME
    $env:PREFECT_HOME = $script:workHome
    try {
        & $python -m prefect server database upgrade -y *> (Join-Path -Path $script:workHome -ChildPath 'upgrade.log')
        if ($LASTEXITCODE -ne 0) {
            throw "prefect server database upgrade failed: $(Get-Content -Raw -Path (Join-Path -Path $script:workHome -ChildPath 'upgrade.log'))"
        }
    } finally {
        $env:PREFECT_HOME = $previousHome
    }
    $script:database = Join-Path -Path $script:workHome -ChildPath 'prefect.db'
}

AfterAll {
    # Only the folder this file made: a recursive delete must never follow a variable that
    # could name anything else.
    if ($script:workHome -and (Split-Path -Path $script:workHome -Leaf) -like 'prefectwin-db-*') {
        Remove-Item -LiteralPath $script:workHome -Recurse -Force -ErrorAction SilentlyContinue
    }
}

Describe 'Backup-PrefectDatabase' {
    It 'writes a typed backup of a real Prefect database' {
        $destination = Join-Path -Path $script:workHome -ChildPath 'first.db'
        $backup = Backup-PrefectDatabase -Path $script:database -Destination $destination -Confirm:$false
        $backup.PSObject.TypeNames[0] | Should -Be 'PrefectWin.DatabaseBackup'
        $backup.Changed | Should -BeTrue
        $backup.Backup | Should -Be $destination
        $backup.Revision | Should -Not -BeNullOrEmpty
        $backup.Sha256 | Should -Be (Get-FileHash -LiteralPath $destination -Algorithm SHA256).Hash.ToLowerInvariant()
        ($backup | Format-Table | Out-String) | Should -Match 'Revision\s+FlowRuns\s+SizeBytes'
    }

    It 'finds the database from PREFECT_HOME and, with -WhatIf, writes nothing' {
        $folder = Join-Path -Path $script:workHome -ChildPath 'whatif'
        $null = New-Item -Path $folder -ItemType Directory
        $plan = Backup-PrefectDatabase -PrefectHome $script:workHome -Destination $folder -WhatIf
        $plan.Changed | Should -BeFalse
        $plan.Database | Should -Be $script:database
        @(Get-ChildItem -LiteralPath $folder).Count | Should -Be 0
    }

    It 'refuses a -Destination file that exists already, with -WhatIf too, and writes nothing' {
        $taken = Join-Path -Path $script:workHome -ChildPath 'taken.db'
        Set-Content -LiteralPath $taken -Value 'an older backup' -Encoding Ascii
        $before = (Get-FileHash -LiteralPath $taken).Hash
        foreach ($whatIf in @($true, $false)) {
            $result = Backup-PrefectDatabase -Path $script:database -Destination $taken -WhatIf:$whatIf -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures
            $result | Should -BeNullOrEmpty
            $failures.Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument*'
            $failures[0].TargetObject | Should -Be 'destination'
        }
        (Get-FileHash -LiteralPath $taken).Hash | Should -Be $before
    }

    It 'writes a PrefectWin.NotFound error that honours -ErrorAction and -ErrorVariable' {
        $result = Backup-PrefectDatabase -Path (Join-Path -Path $script:workHome -ChildPath 'missing.db') -ErrorAction SilentlyContinue -ErrorVariable failures
        $result | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.NotFound*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        { Backup-PrefectDatabase -Path (Join-Path -Path $script:workHome -ChildPath 'missing.db') -ErrorAction Stop } | Should -Throw -ErrorId 'PrefectWin.NotFound*'
    }
}

Describe 'Restore-PrefectDatabase' {
    It 'puts the backup back byte for byte and keeps the replaced database' {
        $backupFile = Join-Path -Path $script:workHome -ChildPath 'restore-source.db'
        $null = Backup-PrefectDatabase -Path $script:database -Destination $backupFile -Confirm:$false
        $restored = Restore-PrefectDatabase -BackupPath $backupFile -Path $script:database -Confirm:$false
        $restored.Changed | Should -BeTrue
        (Get-FileHash -LiteralPath $script:database).Hash | Should -Be (Get-FileHash -LiteralPath $backupFile).Hash
        Test-Path -LiteralPath $restored.SafetyBackup | Should -BeTrue
    }

    It 'lists both steps under -WhatIf and changes nothing' {
        $backupFile = Join-Path -Path $script:workHome -ChildPath 'restore-source.db'
        $before = (Get-FileHash -LiteralPath $script:database).Hash
        $safetyCopies = @(Get-ChildItem -LiteralPath (Join-Path -Path $script:workHome -ChildPath 'backups')).Count
        $plan = Restore-PrefectDatabase -BackupPath $backupFile -Path $script:database -WhatIf
        @($plan.Actions).Count | Should -Be 2
        (Get-FileHash -LiteralPath $script:database).Hash | Should -Be $before
        @(Get-ChildItem -LiteralPath (Join-Path -Path $script:workHome -ChildPath 'backups')).Count | Should -Be $safetyCopies
    }

    It 'refuses a file that is not a Prefect database, naming -BackupPath' {
        $foreign = Join-Path -Path $script:workHome -ChildPath 'foreign.db'
        Set-Content -LiteralPath $foreign -Value 'not a database'
        $null = Restore-PrefectDatabase -BackupPath $foreign -Path $script:database -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidArgument*'
        $failures[0].TargetObject | Should -Be 'backupPath'
    }
}
