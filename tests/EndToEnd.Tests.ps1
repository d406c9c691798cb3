#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    End-to-end tests of the PrefectWin cmdlets: no mocks. The real module, the real backend
    ('python -m prefectwin rpc', the interpreter the module resolves: PREFECTWIN_PYTHON or the
    module's .venv) and one real 'prefect server start' that this file starts in BeforeAll (a
    free loopback port, its own PREFECT_HOME, analytics and UI off) and stops with SIGINT in
    AfterAll. Prefect's own CLI ('prefect config view') is the oracle for settings.

    Every test runs with a fresh client PREFECT_HOME and gets the process environment back
    afterwards. Where a backend interpreter is missing the file is skipped, except in CI
    (CI=true), where that is a failure.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    $discovered = Import-Module -Name (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'PrefectWin.psd1') -Force -PassThru
    $backendFound = $true
    try {
        $null = & $discovered { Resolve-PrefectPython -Force }
    } catch {
        $backendFound = $false
    }
    $skipRealBackend = -not ($backendFound -or $env:CI -eq 'true')
    # Off Windows every service cmdlet, and the User and Machine setting scopes, are NotSupported.
    $notSupportedCases = @(
        @{ Cmdlet = 'Get-PrefectService'; Arguments = @{}; Target = 'Service' }
        @{ Cmdlet = 'Install-PrefectService'; Arguments = @{ Name = 'PrefectE2E'; Role = 'Server'; Port = 4242; Confirm = $false }; Target = 'Service' }
        @{ Cmdlet = 'Wait-PrefectService'; Arguments = @{ Name = 'PrefectE2E'; TimeoutSec = 5 }; Target = 'Service' }
        @{ Cmdlet = 'Get-PrefectServiceLog'; Arguments = @{ Name = 'PrefectE2E'; Tail = 5 }; Target = 'Service' }
        @{ Cmdlet = 'Uninstall-PrefectService'; Arguments = @{ Name = 'PrefectE2E'; Confirm = $false }; Target = 'Service' }
        @{ Cmdlet = 'Set-PrefectSetting'; Arguments = @{ Name = 'PREFECT_API_URL'; Value = 'http://127.0.0.1:4242/api'; Scope = 'User'; Confirm = $false }; Target = 'params.scope' }
        @{ Cmdlet = 'Remove-PrefectSetting'; Arguments = @{ Name = 'PREFECT_API_URL'; Scope = 'Machine'; Confirm = $false }; Target = 'params.scope' }
    )
}

Describe 'PrefectWin end to end, against a real Prefect server' -Skip:$skipRealBackend {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $manifest = Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1'
        $prefectWin = Import-Module -Name $manifest -Force -PassThru
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $python = Get-TestBackendPython -Module $prefectWin
        $fileEnvironment = Save-TestEnvironment
        $server = Start-TestPrefectServer -Python $python -HomePath (Join-Path -Path $TestDrive -ChildPath 'server-home')
    }

    AfterAll {
        if ($null -ne $server) {
            Stop-TestPrefectServer -Server $server
            $server.Process.HasExited | Should -BeTrue -Because 'the test server is never left running'
        }
        Restore-TestEnvironment -Saved $fileEnvironment
    }

    BeforeEach {
        $testEnvironment = Save-TestEnvironment
        $clientHome = Set-TestPrefectHome -Path (Join-Path -Path $TestDrive -ChildPath ('client-' + [guid]::NewGuid().ToString('N')))
    }

    AfterEach {
        Restore-TestEnvironment -Saved $testEnvironment
    }

    Context 'Test-PrefectEnvironment' {
        It 'names the server''s own PID as the port''s owner, finds it healthy, and outputs typed objects' {
            $env:PREFECT_API_URL = $server.ApiUrl
            $results = @(Test-PrefectEnvironment -Port $server.Port)
            $names = @($results | ForEach-Object -Process { $_.Check })
            ($names -join ',') | Should -BeExactly 'python.found,python.version,python.path-spaces,prefect.installed,prefect.cli-on-path,settings.home,settings.profile,settings.api-url,port.available,database,encoding,server.health,server.auth,server.version,windows.admin,windows.execution-policy,windows.firewall,windows.firewall-scope,windows.defender,windows.long-paths,windows.nssm'
            foreach ($result in $results) {
                $result.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.CheckResult'
                $result.Status | Should -BeIn @('Pass', 'Warning', 'Fail', 'Skipped')
                $result.Message | Should -Not -BeNullOrEmpty
            }
            $byName = @{}
            foreach ($result in $results) {
                $byName[$result.Check] = $result
            }
            $port = $byName['port.available']
            $port.Status | Should -BeExactly 'Warning' -Because 'a Prefect server holds the port'
            $port.Message | Should -BeLike "*PID $($server.Process.Id) *"
            @($port.Data.owners | ForEach-Object -Process { $_.pid }) | Should -Contain $server.Process.Id
            @($port.Data.owners | Where-Object -FilterScript { $_.pid -eq $server.Process.Id })[0].isPrefectServer | Should -BeTrue
            $byName['server.health'].Status | Should -BeExactly 'Pass'
            $byName['server.health'].Message | Should -BeLike "*$($server.ApiUrl)*"
            $byName['server.version'].Status | Should -BeExactly 'Pass' -Because 'the server and this client run the same Prefect'
            $byName['settings.api-url'].Status | Should -BeExactly 'Pass'
            $byName['settings.home'].Message | Should -BeLike "*$clientHome*"
            $byName['python.found'].Message | Should -BeLike "*$python*"
        }

        It 'finds a free port available, and warns that a server that is not there does not answer' {
            $free = Get-TestFreePort
            $env:PREFECT_API_URL = "http://127.0.0.1:$free/api"
            $results = @(Test-PrefectEnvironment -Port $free -Check 'port.available', 'server.health')
            ($results | ForEach-Object -Process { '{0}={1}' -f $_.Check, $_.Status }) -join ',' | Should -BeExactly 'port.available=Pass,server.health=Warning'
            $results[1].Message | Should -BeLike "*127.0.0.1:$free/api does not answer*"
        }
    }

    Context 'settings, with prefect config view as the oracle' {
        It 'sets, reads and removes a setting at Profile scope' {
            $change = Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value '4317' -Confirm:$false
            $change.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.SettingChange'
            $change.Changed | Should -BeTrue
            $change.Scope | Should -BeExactly 'Profile'
            $oracle = Get-TestPrefectConfig -Python $python
            $oracle['PREFECT_SERVER_API_PORT'].Value | Should -BeExactly '4317'
            $oracle['PREFECT_SERVER_API_PORT'].Source | Should -BeExactly 'profile'

            $read = @(Get-PrefectSetting -Name 'PREFECT_SERVER_API_PORT')
            $read.Count | Should -Be 1
            $read[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.Setting'
            $read[0].Value | Should -Be 4317
            $read[0].Source | Should -BeExactly ('profile:{0}' -f $oracle['PREFECT_PROFILE'].Value)
            # Without a name: exactly what config view lists (PREFECT_PROFILE is not a setting).
            $listed = @(Get-PrefectSetting | ForEach-Object -Process { $_.Name } | Sort-Object)
            $expected = @($oracle.Keys | Where-Object -FilterScript { $_ -ne 'PREFECT_PROFILE' } | Sort-Object)
            ($listed -join ',') | Should -BeExactly ($expected -join ',')

            (Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value '4317' -Confirm:$false).Changed | Should -BeFalse -Because 'the same value twice changes nothing'

            $removed = Remove-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Confirm:$false
            $removed.Changed | Should -BeTrue
            (Get-TestPrefectConfig -Python $python).ContainsKey('PREFECT_SERVER_API_PORT') | Should -BeFalse
            (Get-PrefectSetting -Name 'PREFECT_SERVER_API_PORT').Source | Should -BeExactly 'default'
        }

        It 'sets and removes a setting at Process scope, in this session, by its legacy alias too' {
            $change = Set-PrefectSetting -Name 'PREFECT_API_DATABASE_TIMEOUT' -Value '31' -Scope Process -Confirm:$false
            $change.Name | Should -BeExactly 'PREFECT_SERVER_DATABASE_TIMEOUT'
            $change.PSObject.Properties['Environment'] | Should -BeNullOrEmpty -Because 'the plain-text assignments are applied, never output'
            $env:PREFECT_SERVER_DATABASE_TIMEOUT | Should -BeExactly '31'
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse -Because 'Process scope writes no profile'
            $oracle = Get-TestPrefectConfig -Python $python
            $oracle['PREFECT_SERVER_DATABASE_TIMEOUT'].Value | Should -BeIn @('31', '31.0')
            $oracle['PREFECT_SERVER_DATABASE_TIMEOUT'].Source | Should -BeExactly 'env'
            $read = Get-PrefectSetting -Name 'PREFECT_API_DATABASE_TIMEOUT'
            $read.Name | Should -BeExactly 'PREFECT_SERVER_DATABASE_TIMEOUT'
            [double]$read.Value | Should -Be 31
            $read.Source | Should -BeExactly 'env:PREFECT_SERVER_DATABASE_TIMEOUT'

            $null = Remove-PrefectSetting -Name 'PREFECT_SERVER_DATABASE_TIMEOUT' -Scope Process -Confirm:$false
            Test-Path -LiteralPath 'env:PREFECT_SERVER_DATABASE_TIMEOUT' | Should -BeFalse
            (Get-TestPrefectConfig -Python $python).ContainsKey('PREFECT_SERVER_DATABASE_TIMEOUT') | Should -BeFalse
        }

        It 'refuses a value Prefect refuses, names the closest setting for a typo, and writes nothing' {
            $refused = $null
            $null = Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value 'not-a-port' -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable refused
            @($refused).Count | Should -Be 1
            $refused[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.InvalidArgument,Set-PrefectSetting'
            $typo = $null
            $null = Get-PrefectSetting -Name 'PREFECT_SERVER_API_PROT' -ErrorAction SilentlyContinue -ErrorVariable typo
            $typo[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.InvalidArgument,Get-PrefectSetting'
            $typo[0].Exception.Message | Should -BeLike '*PREFECT_SERVER_API_PORT*'
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
        }
    }

    Context 'Repair-PrefectEnvironment' {
        It '-WhatIf lists its fixes and changes nothing' {
            $results = @(Repair-PrefectEnvironment -Port $server.Port -WhatIf)
            $results | ForEach-Object -Process { $_.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.RepairResult' }
            $apiUrl = @($results | Where-Object -FilterScript { $_.Check -eq 'settings.api-url' })
            $apiUrl.Count | Should -Be 1
            $apiUrl[0].Status | Should -BeExactly 'Planned'
            @($apiUrl[0].Actions)[0].kind | Should -BeExactly 'profile.set'
            @($apiUrl[0].Actions)[0].description | Should -BeLike "*'$($server.ApiUrl)'*"
            @($results | Where-Object -FilterScript { $_.Status -eq 'Changed' }).Count | Should -Be 0
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse -Because 'no profile was written'

            # What -WhatIf shows the administrator: the host's "What if:" line per fix.
            $script = "Import-Module -Name '$manifest'; Repair-PrefectEnvironment -Port $($server.Port) -Check 'settings.api-url' -WhatIf | Out-Null"
            $shown = @(& (Get-TestPowerShellPath) -NoProfile -NonInteractive -Command $script 2>&1)
            $shown -join "`n" | Should -BeLike "*What if: Performing the operation `"Set PREFECT_API_URL to '$($server.ApiUrl)' in the active profile`"*"
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
            (Get-TestPrefectConfig -Python $python).ContainsKey('PREFECT_API_URL') | Should -BeFalse -Because 'Prefect itself sees no PREFECT_API_URL'
        }

        It 'repairs PREFECT_API_URL for real: the profile points at the server, which is then healthy' {
            $before = @(Test-PrefectEnvironment -Port $server.Port -Check 'server.health')
            $before[0].Status | Should -BeExactly 'Skipped' -Because 'no PREFECT_API_URL is set yet'
            $results = @(Repair-PrefectEnvironment -Port $server.Port -Check 'settings.api-url' -Confirm:$false)
            $results.Count | Should -Be 1
            $results[0].Status | Should -BeExactly 'Changed'
            $results[0].After | Should -BeExactly 'Pass'
            $oracle = Get-TestPrefectConfig -Python $python
            $oracle['PREFECT_API_URL'].Value | Should -BeExactly $server.ApiUrl
            $oracle['PREFECT_API_URL'].Source | Should -BeExactly 'profile'
            @(Test-PrefectEnvironment -Port $server.Port -Check 'server.health')[0].Status | Should -BeExactly 'Pass'
            @(Repair-PrefectEnvironment -Port $server.Port -Check 'settings.api-url' -Confirm:$false)[0].Status | Should -BeExactly 'Skipped' -Because 'a repaired check has nothing left to do'
        }
    }

    Context 'Get-PrefectServiceLog, on real log files' {
        It 'reads the real server''s stdout and stderr logs as typed entries, its banner kept raw' {
            $stdout = Join-Path -Path $server.HomePath -ChildPath 'server.out.log'
            $stderr = Join-Path -Path $server.HomePath -ChildPath 'server.err.log'
            $entries = @(Get-PrefectServiceLog -Path $stdout, $stderr)
            $entries.Count | Should -BeGreaterThan 0
            $entries | ForEach-Object -Process { $_.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.ServiceLogEntry' }
            $banner = @($entries | Where-Object { $_.Stream -eq 'Stdout' -and $_.Raw -like '*PREFECT_API_URL*' })
            $banner.Count | Should -Be 1 -Because "the banner's lines are kept raw: $(Get-TestServerLog -Server $server)"
            $banner[0].Level | Should -BeNullOrEmpty
            $banner[0].Path | Should -BeExactly $stdout
            # What the server writes to stderr depends on its log level; whatever is there is Stderr.
            @($entries | Where-Object { $_.Path -eq $stderr -and $_.Stream -ne 'Stderr' }).Count | Should -Be 0
            $last = @(Get-PrefectServiceLog -Path $stdout -Tail 1)
            $last.Count | Should -Be 1
            $last[0].Message | Should -BeExactly @($entries | Where-Object { $_.Path -eq $stdout })[-1].Message
            @(Get-PrefectServiceLog -Path $stdout -Level Info).Count | Should -Be 0 -Because 'the banner has no level'
        }

        It '-Wait follows a log across a rename and a new file, as NSSM rotates it, until the pipeline ends' {
            $log = Join-Path -Path $TestDrive -ChildPath 'follow.stderr.log'
            Set-Content -LiteralPath $log -Value '10:00:00.000 | INFO    | e2e - line one' -Encoding ascii
            $writer = Join-Path -Path $TestDrive -ChildPath 'rotate.py'
            Set-Content -LiteralPath $writer -Encoding ascii -Value @(
                'import os, sys'
                'log = sys.argv[1]'
                'rotated = log[:-len(".log")] + "-20260302T100001.000.log"'
                'def add(path, text):'
                '    with open(path, "a") as handle:'
                '        handle.write(text + "\n")'
                'add(log, "10:00:01.000 | WARNING | e2e - line two")'
                'os.rename(log, rotated)'
                'add(rotated, "10:00:01.500 | INFO    | e2e - line three")'
                'add(log, "10:00:02.000 | ERROR   | e2e - line four")'
            )
            # The writer starts once the first entry arrived, so the follower's cursor is taken
            # before the file is written to, renamed and replaced.
            $writing = @{}
            try {
                $followed = @(Get-PrefectServiceLog -Path $log -Tail 1 -Wait | ForEach-Object -Process {
                        if ($writing.Count -eq 0) {
                            $writing['process'] = Start-Process -FilePath $python -ArgumentList @($writer, $log) -PassThru
                        }
                        $_
                    } | Select-Object -First 4)
            } finally {
                if ($writing.Count -gt 0 -and -not $writing['process'].WaitForExit(30000)) {
                    $writing['process'].Kill()
                }
            }
            @($followed | ForEach-Object -Process { $_.Message }) | Should -Be @('line one', 'line two', 'line three', 'line four')
            @($followed | ForEach-Object -Process { $_.Level }) | Should -Be @('INFO', 'WARNING', 'INFO', 'ERROR')
            @($followed | Where-Object { $_.Stream -ne 'Stderr' }).Count | Should -Be 0
            Test-Path -LiteralPath (Join-Path -Path $TestDrive -ChildPath 'follow.stderr-20260302T100001.000.log') | Should -BeTrue
        }
    }

    # Windows PowerShell 5.1 and the service control manager are not here: on Windows these
    # cmdlets do their real work, which tests/Service.Tests.ps1 and the pytest Windows suites cover.
    Context 'plans: -Confirm per action, and PlanStale' {
        BeforeAll {
            function Start-ConfirmingChild {
                # A child pwsh whose -Confirm prompts read their answers from its stdin, as a
                # person at the console would type them; it prints RESULT:<json> and ERRORS:<ids>.
                param([string] $Script)
                $path = Join-Path -Path $TestDrive -ChildPath ('child-' + [guid]::NewGuid().ToString('N') + '.ps1')
                $prelude = "Import-Module -Name '$manifest'; `$ErrorActionPreference = 'Continue'`n"
                $epilogue = "`n'RESULT:' + (ConvertTo-Json -InputObject @(`$result) -Depth 6 -Compress)`n'ERRORS:' + ((@(`$failed) | ForEach-Object -Process { `$_.FullyQualifiedErrorId }) -join ',')"
                Set-Content -LiteralPath $path -Value ($prelude + $Script + $epilogue) -Encoding UTF8
                $info = New-Object -TypeName System.Diagnostics.ProcessStartInfo
                # This PowerShell's own executable (a .NET tool's process is 'dotnet', so by name).
                $executable = if ($PSVersionTable.PSEdition -eq 'Desktop') { 'powershell' } else { 'pwsh' }
                $info.FileName = (Get-Command -Name $executable -CommandType Application | Select-Object -First 1).Source
                $info.Arguments = "-NoProfile -File `"$path`""
                $info.UseShellExecute = $false
                $info.RedirectStandardInput = $true
                $info.RedirectStandardOutput = $true
                $info.RedirectStandardError = $true
                $child = [PSCustomObject]@{
                    Process = [System.Diagnostics.Process]::Start($info)
                    Output = New-Object -TypeName System.Text.StringBuilder
                    Buffer = New-Object -TypeName 'char[]' -ArgumentList 4096
                    Pending = $null
                }
                $child | Add-Member -MemberType NoteProperty -Name 'Errors' -Value $child.Process.StandardError.ReadToEndAsync()
                $child
            }

            function Wait-ChildText {
                param([object] $Child, [string] $Text, [int] $Count = 1, [int] $TimeoutSec = 300)
                $deadline = [System.DateTime]::UtcNow.AddSeconds($TimeoutSec)
                while (([regex]::Matches($Child.Output.ToString(), [regex]::Escape($Text))).Count -lt $Count) {
                    if ($null -eq $Child.Pending) {
                        $Child.Pending = $Child.Process.StandardOutput.ReadAsync($Child.Buffer, 0, $Child.Buffer.Length)
                    }
                    if ($Child.Pending.Wait(200)) {
                        $read = $Child.Pending.Result
                        $Child.Pending = $null
                        if ($read -eq 0) {
                            throw "The child pwsh ended before it printed '$Text': $($Child.Output) $($Child.Errors.Result)"
                        }
                        $null = $Child.Output.Append($Child.Buffer, 0, $read)
                    } elseif ([System.DateTime]::UtcNow -ge $deadline) {
                        throw "The child pwsh did not print '$Text' in time: $($Child.Output)"
                    }
                }
            }

            function Add-TestSqliteTable {
                param([string] $Path, [string] $Table)
                & $python -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('create table $Table (x)'); c.commit(); c.close()" $Path
                $LASTEXITCODE | Should -Be 0
            }

            function Complete-ConfirmingChild {
                # Types the answers, reads the rest, and returns the prompts asked and the result.
                param([object] $Child, [string[]] $Answer)
                foreach ($line in $Answer) {
                    $Child.Process.StandardInput.WriteLine($line)
                }
                $Child.Process.StandardInput.Close()
                if ($null -ne $Child.Pending) {
                    $read = $Child.Pending.Result
                    $null = $Child.Output.Append($Child.Buffer, 0, $read)
                    $Child.Pending = $null
                }
                $null = $Child.Output.Append($Child.Process.StandardOutput.ReadToEnd())
                $Child.Process.WaitForExit(120000) | Should -BeTrue
                $text = $Child.Output.ToString()
                $resultLine = @($text -split '\r?\n' | Where-Object { $_.StartsWith('RESULT:') })[0]
                $errorLine = @($text -split '\r?\n' | Where-Object { $_.StartsWith('ERRORS:') })[0]
                [PSCustomObject]@{
                    Prompts = @([regex]::Matches($text, 'Performing the operation "([^"]*)"') | ForEach-Object -Process { $_.Groups[1].Value })
                    Result = ConvertFrom-Json -InputObject $resultLine.Substring(7)
                    Errors = $errorLine.Substring(7)
                    Text = $text
                }
            }

            $backups = Join-Path -Path $TestDrive -ChildPath 'plans'
            $null = New-Item -Path $backups -ItemType Directory -Force
            $source = Join-Path -Path $backups -ChildPath 'backup.db'
            $null = Backup-PrefectDatabase -Path (Join-Path -Path $server.HomePath -ChildPath 'prefect.db') -Destination $source -Confirm:$false
        }

        BeforeEach {
            $database = Join-Path -Path $backups -ChildPath ('db-' + [guid]::NewGuid().ToString('N') + '.db')
            Copy-Item -LiteralPath $source -Destination $database
            # A valid database that differs from the backup: a restore is then visible.
            Add-TestSqliteTable -Path $database -Table 'before_restore'
            $before = (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash
        }

        It 'declining the safety copy skips the restore that depends on it, without asking about it' {
            $child = Start-ConfirmingChild -Script "`$result = Restore-PrefectDatabase -BackupPath '$source' -Path '$database' -Confirm -ErrorVariable failed"
            Wait-ChildText -Child $child -Text 'Performing the operation'
            $run = Complete-ConfirmingChild -Child $child -Answer 'N'
            $run.Prompts.Count | Should -Be 1 -Because "the restore depends on the declined safety copy: $($run.Text)"
            $run.Prompts[0] | Should -BeLike 'Keep the current database*'
            (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash | Should -Be $before
            @(Get-ChildItem -Path (Join-Path -Path $backups -ChildPath 'backups') -Filter ([System.IO.Path]::GetFileNameWithoutExtension($database) + '-before-restore-*') -ErrorAction SilentlyContinue).Count | Should -Be 0
            $run.Errors | Should -BeNullOrEmpty
        }

        It 'declining one action runs the others: the safety copy is kept, the database is not replaced' {
            $child = Start-ConfirmingChild -Script "`$result = Restore-PrefectDatabase -BackupPath '$source' -Path '$database' -Confirm -ErrorVariable failed"
            Wait-ChildText -Child $child -Text 'Performing the operation'
            $run = Complete-ConfirmingChild -Child $child -Answer 'Y', 'N'
            $run.Prompts.Count | Should -Be 2
            $run.Errors | Should -BeNullOrEmpty
            (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash | Should -Be $before
            $safety = @(Get-ChildItem -Path (Join-Path -Path $backups -ChildPath 'backups') -Filter ([System.IO.Path]::GetFileNameWithoutExtension($database) + '-before-restore-*') -ErrorAction SilentlyContinue)
            $safety.Count | Should -Be 1
            # SQLite's online backup copies pages, not bytes: the copy is a database of its own.
            $safety[0].Length | Should -BeGreaterThan 0
            @($run.Result.actions | ForEach-Object -Process { $_.kind }) -join ',' | Should -BeExactly 'backup-database'
        }

        It 'refuses with PlanStale when the database changes between the plan and its apply (<Mode>)' -ForEach @(
            @{ Mode = 'one-shot'; Start = '' }
            @{ Mode = 'session'; Start = 'Start-PrefectSession | Out-Null; ' }
        ) {
            $child = Start-ConfirmingChild -Script "$Start`$result = Restore-PrefectDatabase -BackupPath '$source' -Path '$database' -Confirm -ErrorVariable failed"
            Wait-ChildText -Child $child -Text 'Performing the operation'
            # The machine changes while the admin reads the plan.
            Add-TestSqliteTable -Path $database -Table 'changed_meanwhile'
            $changed = (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash
            $run = Complete-ConfirmingChild -Child $child -Answer 'Y', 'Y'
            $run.Errors | Should -BeExactly 'PrefectWin.PlanStale,Restore-PrefectDatabase' -Because $run.Text
            (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash | Should -Be $changed -Because 'a stale plan changes nothing'
            @(Get-ChildItem -Path (Join-Path -Path $backups -ChildPath 'backups') -Filter ([System.IO.Path]::GetFileNameWithoutExtension($database) + '-before-restore-*') -ErrorAction SilentlyContinue).Count | Should -Be 0
        }

        It 'applies the plan that was shown when nothing changed (<Mode>)' -ForEach @(
            @{ Mode = 'one-shot, planned again'; Start = '' }
            @{ Mode = 'session, by plan id'; Start = 'Start-PrefectSession | Out-Null; ' }
        ) {
            $child = Start-ConfirmingChild -Script "$Start`$result = Restore-PrefectDatabase -BackupPath '$source' -Path '$database' -Confirm -ErrorVariable failed"
            Wait-ChildText -Child $child -Text 'Performing the operation'
            # The safety copy's name holds the time of planning: let a second pass before applying.
            Start-Sleep -Milliseconds 1200
            $run = Complete-ConfirmingChild -Child $child -Answer 'Y', 'Y'
            $run.Errors | Should -BeNullOrEmpty -Because $run.Text
            (Get-FileHash -LiteralPath $database -Algorithm SHA256).Hash | Should -Be (Get-FileHash -LiteralPath $source -Algorithm SHA256).Hash
        }
    }

    Context 'Windows-only cmdlets off Windows' -Skip:$onWindows {
        It '<Cmdlet> writes a PrefectWin.NotSupported error and changes nothing' -ForEach $notSupportedCases {
            $arguments = @{} + $Arguments
            if ($Cmdlet -eq 'Install-PrefectService') {
                $arguments['PrefectHome'] = Join-Path -Path $TestDrive -ChildPath 'service-home'
            }
            $before = Save-TestEnvironment
            $children = @(Get-TestChildProcessId -ProcessId $PID | Sort-Object)
            $failures = $null
            $output = @(& $Cmdlet @arguments -ErrorAction SilentlyContinue -ErrorVariable failures)
            $output.Count | Should -Be 0
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -BeExactly "PrefectWin.NotSupported,$Cmdlet"
            $failures[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::NotImplemented)
            $failures[0].TargetObject | Should -BeExactly $Target
            $failures[0].Exception.Message | Should -BeLike '*Windows*'
            $failures[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            Test-Path -LiteralPath (Join-Path -Path $TestDrive -ChildPath 'service-home') | Should -BeFalse
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
            $after = Save-TestEnvironment
            (@($after.Keys | Sort-Object) -join ',') | Should -BeExactly (@($before.Keys | Sort-Object) -join ',')
            (@(Get-TestChildProcessId -ProcessId $PID | Sort-Object) -join ',') | Should -BeExactly ($children -join ',') -Because 'no process is left behind'
        }
    }

    Context 'errors and preferences' {
        It '-ErrorAction Stop throws the PrefectWin error; SilentlyContinue with -ErrorVariable collects it' {
            $thrown = { Test-PrefectEnvironment -PrefectHome '' -ErrorAction Stop } | Should -Throw -ErrorId 'PrefectWin.InvalidRequest,Test-PrefectEnvironment' -PassThru
            $thrown.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $thrown.TargetObject | Should -BeExactly 'params.prefectHome'
            $collected = $null
            $output = @(Test-PrefectEnvironment -PrefectHome '' -ErrorAction SilentlyContinue -ErrorVariable collected)
            $output.Count | Should -Be 0
            @($collected).Count | Should -Be 1
            $collected[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        }

        It 'honours $ErrorActionPreference set in the calling function, and -ErrorAction over it' {
            function Invoke-TestStrict {
                $ErrorActionPreference = 'Stop'
                try {
                    $null = Test-PrefectEnvironment -PrefectHome ''
                    'continued'
                } catch {
                    'stopped: ' + $_.FullyQualifiedErrorId
                }
                $null = Test-PrefectEnvironment -PrefectHome '' -ErrorAction SilentlyContinue
                'continued with -ErrorAction SilentlyContinue'
            }
            function Invoke-TestQuiet {
                $ErrorActionPreference = 'SilentlyContinue'
                $errorCount = $Error.Count
                $null = Test-PrefectEnvironment -PrefectHome ''
                'recorded {0}' -f ($Error.Count - $errorCount)
            }
            (Invoke-TestStrict) -join '|' | Should -BeExactly 'stopped: PrefectWin.InvalidRequest,Test-PrefectEnvironment|continued with -ErrorAction SilentlyContinue'
            Invoke-TestQuiet 2>&1 | Should -BeExactly 'recorded 1'
        }

        It 'reports a PowerShell-side failure as itself, never as BridgeFailed' {
            # A real one: -WarningAction Inquire in a host that cannot prompt, while the backend's
            # warning (an environment variable overrides the profile value) is relayed.
            $env:PREFECT_API_URL = $server.ApiUrl
            $child = [System.Management.Automation.PowerShell]::Create()
            try {
                $null = $child.AddScript("Import-Module -Name '$manifest'; Set-PrefectSetting -Name 'PREFECT_API_URL' -Value 'http://127.0.0.1:1/api' -WarningAction Inquire -Confirm:`$false")
                $caught = $null
                try {
                    $null = $child.Invoke()
                } catch {
                    $caught = $_
                }
                $records = @($child.Streams.Error) + @($caught | Where-Object -FilterScript { $null -ne $_ })
                $records.Count | Should -BeGreaterThan 0
                foreach ($record in $records) {
                    [string]$record.FullyQualifiedErrorId | Should -Not -BeLike 'PrefectWin.BridgeFailed*'
                    [string]$record.Exception.Message | Should -Not -BeLike '*build.ps1 Install*'
                }
                ([string]$records[0].Exception.Message) | Should -BeLike '*prompt*'
            } finally {
                $child.Dispose()
            }
        }
    }

    Context 'common parameters carry what the backend sends' {
        It '-WhatIf plans, -Confirm:$false applies, and $WhatIfPreference of the caller counts too' {
            $planned = Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value '4318' -WhatIf
            $planned.Changed | Should -BeFalse
            @($planned.Actions)[0].kind | Should -BeExactly 'profile.set'
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
            $inScope = & {
                $WhatIfPreference = $true
                Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value '4318'
            }
            $inScope.Changed | Should -BeFalse
            Test-Path -LiteralPath $env:PREFECT_PROFILES_PATH | Should -BeFalse
            (Set-PrefectSetting -Name 'PREFECT_SERVER_API_PORT' -Value '4318' -Confirm:$false).Changed | Should -BeTrue
            (Get-TestPrefectConfig -Python $python)['PREFECT_SERVER_API_PORT'].Value | Should -BeExactly '4318'
        }

        It '-Verbose relays the backend''s verbose lines' {
            $records = @(Get-PrefectSetting -Name 'PREFECT_HOME' -Verbose 4>&1)
            $verbose = @($records | Where-Object -FilterScript { $_ -is [System.Management.Automation.VerboseRecord] })
            @($verbose | Where-Object -FilterScript { $_.Message -like "*$python*" }).Count | Should -BeGreaterThan 0 -Because 'the backend names the target interpreter'
            @($records | Where-Object -FilterScript { $_ -isnot [System.Management.Automation.VerboseRecord] })[0].Value | Should -BeExactly $clientHome
            @(Get-PrefectSetting -Name 'PREFECT_HOME' 4>&1 | Where-Object -FilterScript { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -Be 0
        }

        It '-WarningVariable collects the backend''s warning, and -WarningAction SilentlyContinue hides it' {
            $env:PREFECT_API_URL = $server.ApiUrl
            $warnings = $null
            $records = @(Set-PrefectSetting -Name 'PREFECT_API_URL' -Value 'http://127.0.0.1:4319/api' -Confirm:$false -WarningVariable warnings -WarningAction SilentlyContinue 3>&1)
            @($records | Where-Object -FilterScript { $_ -is [System.Management.Automation.WarningRecord] }).Count | Should -Be 0
            @($warnings).Count | Should -Be 1
            [string]$warnings[0] | Should -BeLike '*env:PREFECT_API_URL*overrides*'
            $env:PREFECT_API_URL | Should -BeExactly $server.ApiUrl -Because 'Profile scope leaves the environment alone'
        }

        It 'Write-Progress carries the backend''s progress without touching the caller''s own bar' {
            $child = [System.Management.Automation.PowerShell]::Create()
            try {
                $null = $child.AddScript("Import-Module -Name '$manifest'; Write-Progress -Activity 'Caller' -Status 'before' -PercentComplete 5; `$null = Test-PrefectEnvironment -Check 'encoding'; Write-Progress -Activity 'Caller' -Status 'after' -PercentComplete 50")
                $null = $child.Invoke()
                $child.Streams.Error.Count | Should -Be 0
                $progress = @($child.Streams.Progress)
            } finally {
                $child.Dispose()
            }
            $callers = @($progress | Where-Object -FilterScript { $_.Activity -eq 'Caller' })
            ($callers | ForEach-Object -Process { $_.StatusDescription }) -join ',' | Should -BeExactly 'before,after'
            $callerId = $callers[0].ActivityId
            $module = @($progress | Where-Object -FilterScript { $_.Activity -ne 'Caller' })
            $module.Count | Should -BeGreaterThan 1
            foreach ($record in $module) {
                $record.ActivityId | Should -Not -Be $callerId -Because 'a record with the caller''s Id would overwrite its bar'
                $record.Activity | Should -BeExactly 'Diagnosing the Prefect environment'
            }
            $module[0].StatusDescription | Should -BeLike "Asking*$python*"
            @($module | ForEach-Object -Process { $_.PercentComplete }) | Should -Contain 100
            $module[-1].RecordType | Should -Be ([System.Management.Automation.ProgressRecordType]::Completed)
        }
    }
}
