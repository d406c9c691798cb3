#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Get-PrefectServiceLog -Wait following several services at once, through the real module and
    the real backend, no mocks. The services are kept by the POSIX stand-in for the Service
    Control Manager (PREFECTWIN_POSIX_SERVICE_ROOT; python/src/prefectwin/system/posix_standin.py):
    one JSON file of NSSM parameters and a marker each, with real log files that this file
    writes to while the follower runs. Nothing is started: the logs are what is followed.
    The follower runs in a PowerShell of its own (a runspace), stopped as Ctrl-C stops it.
#>

BeforeDiscovery {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

Describe 'Get-PrefectServiceLog -Wait with several services, against the POSIX service stand-in' -Skip:$onWindows -Tag 'Posix' {
    BeforeAll {
        $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
        $manifest = Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1'
        $prefectWin = Import-Module -Name $manifest -Force -PassThru
        $python = $env:PREFECTWIN_PYTHON
        if (-not $python) {
            $python = & $prefectWin { (Resolve-PrefectPython -Force).Path }
        }
        $script:root = Join-Path -Path $TestDrive -ChildPath 'services'
        $logs = Join-Path -Path $TestDrive -ChildPath 'logs'
        $null = New-Item -Path $script:root, $logs -ItemType Directory
        $script:stderr = @{}

        function Write-TestService {
            param([string] $Name, [string] $Role)
            $stdout = Join-Path -Path $logs -ChildPath "$Name.stdout.log"
            $stderrLog = Join-Path -Path $logs -ChildPath "$Name.stderr.log"
            Set-Content -LiteralPath $stdout -Value @() -Encoding ascii
            $script:stderr[$Name] = $stderrLog
            $marker = [ordered]@{
                managedBy = 'PrefectWin'; format = 1; role = $Role; prefectHome = $TestDrive
                apiUrl = 'http://127.0.0.1:4398/api'; logPaths = @($stdout, $stderrLog)
            }
            $service = [ordered]@{
                name = $Name
                parameters = [ordered]@{ Application = @($python); AppParameters = @('-c pass'); AppStdout = @($stdout); AppStderr = @($stderrLog) }
                marker = (ConvertTo-Json -InputObject $marker -Compress)
            }
            Set-Content -LiteralPath (Join-Path -Path $script:root -ChildPath ($Name.ToLowerInvariant() + '.json')) -Value (ConvertTo-Json -InputObject $service -Depth 5) -Encoding ascii
        }

        function Get-TestLine {
            # A line in Prefect's format, dated some seconds ago (the date comes from the file).
            param([double] $SecondsAgo, [string] $Message)
            '{0} | INFO    | prefect.test - {1}' -f (Get-Date).AddSeconds(-$SecondsAgo).ToString('HH:mm:ss.fff'), $Message
        }

        function Get-TestItem {
            # What a PSDataCollection holds now: enumerating one waits until it is complete.
            param([object] $Collection)
            for ($index = 0; $index -lt $Collection.Count; $index++) {
                $Collection[$index]
            }
        }

        function Wait-TestOutput {
            # Until the follower has written $Count entries, or it has ended, or a minute passed.
            param([System.Management.Automation.PowerShell] $Follower, [object] $Output, [int] $Count)
            $deadline = [System.DateTime]::UtcNow.AddSeconds(60)
            while ($Output.Count -lt $Count -and $Follower.InvocationStateInfo.State -in @('NotStarted', 'Running') -and [System.DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 100
            }
        }

        Write-TestService -Name 'LogServer' -Role 'Server'
        Write-TestService -Name 'LogWorker' -Role 'Worker'
        $script:savedRoot = $env:PREFECTWIN_POSIX_SERVICE_ROOT
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:root
    }

    AfterAll {
        $env:PREFECTWIN_POSIX_SERVICE_ROOT = $script:savedRoot
    }

    It 'follows every piped service, their entries merged by time as they arrive, each naming its service, until stopped' {
        Add-Content -LiteralPath $script:stderr['LogServer'] -Value @((Get-TestLine -SecondsAgo 50 -Message 'server old'), (Get-TestLine -SecondsAgo 30 -Message 'server started')) -Encoding ascii
        Add-Content -LiteralPath $script:stderr['LogWorker'] -Value @((Get-TestLine -SecondsAgo 40 -Message 'worker old'), (Get-TestLine -SecondsAgo 20 -Message 'worker started')) -Encoding ascii
        $follower = [System.Management.Automation.PowerShell]::Create()
        $output = New-Object -TypeName 'System.Management.Automation.PSDataCollection[psobject]'
        $noInput = New-Object -TypeName 'System.Management.Automation.PSDataCollection[psobject]'
        $noInput.Complete()
        try {
            $null = $follower.AddScript({
                    param($manifest)
                    Import-Module -Name $manifest
                    Get-PrefectService | Get-PrefectServiceLog -Stream Stdout, Stderr -Tail 1 -Wait
                }).AddArgument($manifest)
            $null = $follower.BeginInvoke($noInput, $output)
            Wait-TestOutput -Follower $follower -Output $output -Count 2
            $errors = @(Get-TestItem -Collection $follower.Streams.Error | ForEach-Object -Process { $_.ToString() }) -join '; '
            @(Get-TestItem -Collection $output | ForEach-Object -Process { '{0}:{1}' -f $_.Service, $_.Message }) | Should -Be @('LogServer:server started', 'LogWorker:worker started') -Because "the last entry of each service comes first ($errors)"
            # Written after the follower's cursor, alternating between the services.
            Add-Content -LiteralPath $script:stderr['LogWorker'] -Value (Get-TestLine -SecondsAgo 3 -Message 'worker one') -Encoding ascii
            Add-Content -LiteralPath $script:stderr['LogServer'] -Value (Get-TestLine -SecondsAgo 2 -Message 'server one') -Encoding ascii
            Add-Content -LiteralPath $script:stderr['LogWorker'] -Value (Get-TestLine -SecondsAgo 1 -Message 'worker two') -Encoding ascii
            Wait-TestOutput -Follower $follower -Output $output -Count 5
            $follower.InvocationStateInfo.State | Should -Be 'Running' -Because 'it follows until it is stopped'
        } finally {
            $follower.Stop()  # what Ctrl-C does
            $follower.Dispose()
        }
        $entries = @(Get-TestItem -Collection $output)
        @($entries | ForEach-Object -Process { '{0}:{1}' -f $_.Service, $_.Message }) | Should -Be @(
            'LogServer:server started', 'LogWorker:worker started', 'LogWorker:worker one', 'LogServer:server one', 'LogWorker:worker two'
        )
        @($entries | ForEach-Object -Process { $_.PSObject.TypeNames[0] } | Sort-Object -Unique) | Should -Be @('PrefectWin.ServiceLogEntry')
        @($entries | Where-Object -FilterScript { $_.Path -ne $script:stderr[$_.Service] }).Count | Should -Be 0
        # The table says which service each entry is from.
        ($entries | Out-String -Width 200) | Should -Match 'LogWorker\s+INFO\s+Stderr\s+prefect\.test\s+worker two'
    }

    It 'reads several -Name without -Wait, one after the other, and writes a NotFound naming a missing one' {
        $entries = @(Get-PrefectServiceLog -Name 'LogServer', 'LogWorker' -Stream Stderr -Tail 1)
        @($entries | ForEach-Object -Process { $_.Service }) | Should -Be @('LogServer', 'LogWorker')
        $problems = $null
        $found = @([PSCustomObject]@{ Name = 'NoSuchService' }, [PSCustomObject]@{ Name = 'LogWorker' } | Get-PrefectServiceLog -Stream Stderr -Tail 1 -ErrorAction SilentlyContinue -ErrorVariable problems)
        @($found | ForEach-Object -Process { $_.Service }) | Should -Be @('LogWorker')
        @($problems).Count | Should -Be 1
        [string]$problems[0].FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.NotFound,Get-PrefectServiceLog'
        $problems[0].TargetObject | Should -BeExactly 'NoSuchService'
        $problems[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
    }
}
