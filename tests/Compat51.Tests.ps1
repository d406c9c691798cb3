#Requires -Version 7.2
<#
    Windows PowerShell 5.1 compatibility, judged here under PowerShell 7 (tests/rules/PowerShellRules.psm1).

    PowerShell 7 parses and runs 7-only code happily, so these rules say what 5.1 would refuse:
    syntax, variables, commands and parameters (by 5.1's own command table), and .NET members
    (by the .NET Framework 4.5 reference assemblies, read with MetadataLoadContext). Each rule is
    run over every PowerShell file of the repository, then shown to catch a seeded violation and
    to pass the clean way of writing the same thing.

    The .NET rule needs three NuGet packages (microsoft.netframework.referenceassemblies.net45,
    powershellstandard.library, system.reflection.metadataloadcontext) under
    $env:PREFECTWIN_NUGET_PACKAGES or /root/.cache/prefectwin-ci/nuget; without them it is skipped,
    except in CI (CI=true), where their absence is a failure.
#>

BeforeDiscovery {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    # The rule tooling itself runs on PowerShell 7 only (MetadataLoadContext), and so do the
    # files that use it; everything else, the module, build.ps1 and the other tests, must run on
    # 5.1 as well.
    $sevenOnly = '^(tests[\\/]rules[\\/]|tests[\\/](Compat51|HouseStyle|DscShape)\.Tests\.ps1$)'
    $fileCases = @(
        Get-ChildItem -Path $repositoryRoot -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            ForEach-Object -Process { @{ File = $_.FullName.Substring($repositoryRoot.Length + 1); Path = $_.FullName } } |
            Where-Object { $_.File -notmatch '^(\.venv|\.git|out)[\\/]' -and $_.File -notmatch $sevenOnly }
    )

    $syntaxCases = @(
        @{ Name = 'ternary'; Bad = '$x = $a ? 1 : 2'; Good = '$x = if ($a) { 1 } else { 2 }' }
        @{ Name = 'pipeline chain'; Bad = 'Get-Item -Path . && Get-Date'; Good = 'Get-Item -Path .; Get-Date' }
        @{ Name = 'null coalescing'; Bad = '$x = $a ?? ''b'''; Good = '$x = if ($null -eq $a) { ''b'' } else { $a }' }
        @{ Name = 'null-coalescing assignment'; Bad = '$a ??= 1'; Good = 'if ($null -eq $a) { $a = 1 }' }
        @{ Name = 'null-conditional member'; Bad = '${a}?.Length'; Good = '$a.Length' }
        @{ Name = 'null-conditional index'; Bad = '${a}?[0]'; Good = '$a[0]' }
        @{ Name = 'clean block'; Bad = "function Test-It {`n    end { 1 }`n    clean { 2 }`n}"; Good = "function Test-It {`n    end { try { 1 } finally { 2 } }`n}" }
        @{ Name = 'background operator'; Bad = 'Get-Date &'; Good = 'Start-Job -ScriptBlock { Get-Date }' }
        @{ Name = 'generic method call'; Bad = '[System.Array]::Empty[string]()'; Good = '[string[]]@()' }
        @{ Name = 'character range'; Bad = '''a''..''e'''; Good = '1..5' }
        @{ Name = '-replace with a script block'; Bad = '''ab'' -replace ''a'', { ''b'' }'; Good = '''ab'' -replace ''a'', ''b''' }
        @{ Name = 'binary literal'; Bad = '$x = 0b101'; Good = '$x = 5' }
        @{ Name = 'unsigned suffix'; Bad = '$x = 10u'; Good = '$x = [uint32]10' }
        @{ Name = 'BigInteger suffix'; Bad = '$x = 1n'; Good = '$x = [bigint]1' }
        @{ Name = 'escape `e'; Bad = '$x = "`e[1m"'; Good = '$x = "$([char]27)[1m"' }
        @{ Name = 'escape `u{}'; Bad = '$x = "`u{2713}"'; Good = '$x = [string][char]0x2713' }
        @{ Name = 'enum underlying type'; Bad = "enum Small : byte {`n    One`n}"; Good = "enum Small {`n    One`n}" }
        @{ Name = 'ValidateNotNullOrWhiteSpace'; Bad = 'function Test-It { param([ValidateNotNullOrWhiteSpace()] [string] $Name) }'; Good = 'function Test-It { param([ValidateNotNullOrEmpty()] [string] $Name) }' }
        @{ Name = 'ValidateRange kind'; Bad = 'function Test-It { param([ValidateRange(''Positive'')] [int] $Count) }'; Good = 'function Test-It { param([ValidateRange(1, 10)] [int] $Count) }' }
        @{ Name = '#Requires -Version 7'; Bad = "#Requires -Version 7.0`nGet-Date"; Good = "#Requires -Version 5.1`nGet-Date" }
        @{ Name = '#Requires -PSEdition Core'; Bad = "#Requires -PSEdition Core`nGet-Date"; Good = 'Get-Date' }
    )
    $variableCases = @(
        @{ Name = '$IsWindows without a guard'; Bad = 'if ($IsWindows) { 1 }'; Good = 'if ($PSVersionTable.PSEdition -eq ''Core'' -and $IsWindows) { 1 }' }
        @{ Name = '$IsLinux without a guard'; Bad = 'if (-not $IsLinux) { 1 }'; Good = 'if ($PSVersionTable.PSEdition -eq ''Core'') { if ($IsLinux) { 1 } }' }
        @{ Name = '$PSStyle'; Bad = '$PSStyle.OutputRendering = ''PlainText'''; Good = '$x = ''PlainText''' }
        @{ Name = '$PSNativeCommandUseErrorActionPreference'; Bad = '$PSNativeCommandUseErrorActionPreference = $true'; Good = 'if ($LASTEXITCODE -ne 0) { throw ''failed'' }' }
    )
    $commandCases = @(
        @{ Name = 'Get-Error'; Bad = 'Get-Error'; Good = '$Error[0]' }
        @{ Name = 'Join-String'; Bad = 'Join-String -InputObject $a -Separator '',''' ; Good = '$a -join '','''}
        @{ Name = 'Test-Json'; Bad = 'Test-Json -Json $text'; Good = '$null = ConvertFrom-Json -InputObject $text' }
        @{ Name = 'ConvertFrom-Json -AsHashtable'; Bad = 'ConvertFrom-Json -InputObject $text -AsHashtable'; Good = 'ConvertFrom-Json -InputObject $text' }
        @{ Name = 'ConvertFrom-Json -Depth'; Bad = 'ConvertFrom-Json -InputObject $text -Depth 5'; Good = 'ConvertTo-Json -InputObject $a -Depth 5' }
        @{ Name = 'ConvertTo-Json -AsArray'; Bad = 'ConvertTo-Json -InputObject $a -AsArray'; Good = 'ConvertTo-Json -InputObject @($a)' }
        @{ Name = 'ConvertTo-Json -EscapeHandling'; Bad = 'ConvertTo-Json -InputObject $a -EscapeHandling EscapeNonAscii'; Good = 'ConvertTo-Json -InputObject $a -Compress' }
        @{ Name = 'ForEach-Object -Parallel'; Bad = '$a | ForEach-Object -Parallel { $_ }'; Good = '$a | ForEach-Object -Process { $_ }' }
        @{ Name = 'Get-Content -AsByteStream'; Bad = 'Get-Content -Path $p -AsByteStream'; Good = 'Get-Content -Path $p -Encoding Byte' }
        @{ Name = 'Set-Content -AsByteStream'; Bad = 'Set-Content -Path $p -Value $b -AsByteStream'; Good = 'Set-Content -Path $p -Value $b -Encoding Byte' }
        @{ Name = 'Out-File -Encoding utf8NoBOM'; Bad = 'Out-File -FilePath $p -Encoding utf8NoBOM'; Good = 'Out-File -FilePath $p -Encoding ascii' }
        @{ Name = 'Set-Content -Encoding:utf8BOM'; Bad = 'Set-Content -Path $p -Value 1 -Encoding:utf8BOM'; Good = 'Set-Content -Path $p -Value 1 -Encoding:UTF8' }
        @{ Name = 'Start-Process -Environment'; Bad = 'Start-Process -FilePath ''x'' -Environment @{ A = 1 }'; Good = 'Start-Process -FilePath ''x'' -UseNewEnvironment' }
        @{ Name = 'Invoke-WebRequest -SkipCertificateCheck'; Bad = 'Invoke-WebRequest -Uri $u -SkipCertificateCheck'; Good = 'Invoke-WebRequest -Uri $u -UseBasicParsing' }
        @{ Name = 'Invoke-RestMethod -StatusCodeVariable'; Bad = 'Invoke-RestMethod -Uri $u -StatusCodeVariable code'; Good = 'Invoke-RestMethod -Uri $u -Method Get' }
        @{ Name = 'Split-Path -LeafBase'; Bad = 'Split-Path -Path $p -LeafBase'; Good = 'Split-Path -Path $p -Leaf' }
        @{ Name = 'Join-Path -AdditionalChildPath'; Bad = 'Join-Path -Path a -ChildPath b -AdditionalChildPath c'; Good = 'Join-Path -Path a -ChildPath b' }
        @{ Name = 'Get-Date -AsUTC'; Bad = 'Get-Date -AsUTC'; Good = '(Get-Date).ToUniversalTime()' }
        @{ Name = 'Sort-Object -Top'; Bad = 'Sort-Object -Property Name -Top 3'; Good = 'Sort-Object -Property Name | Select-Object -First 3' }
        @{ Name = 'Select-String -Raw'; Bad = 'Select-String -Pattern x -Path $p -Raw'; Good = 'Select-String -Pattern x -Path $p -SimpleMatch' }
        @{ Name = 'Get-Verb -Group'; Bad = 'Get-Verb -Group Common'; Good = 'Get-Verb -Verb Get' }
        @{ Name = '-ProgressAction'; Bad = 'Write-Verbose -Message x -ProgressAction SilentlyContinue'; Good = 'Write-Verbose -Message x -Verbose' }
        @{ Name = 'a unique prefix of a 5.1 parameter is fine, a 7-only one is not'; Bad = 'Get-Content -Path $p -AsByte'; Good = 'Get-Content -Path $p -Ra' }
    )
    $netFrameworkCases = @(
        @{ Name = 'Path.GetRelativePath'; Bad = '[System.IO.Path]::GetRelativePath($a, $b)'; Good = '[System.IO.Path]::GetFullPath($a)' }
        @{ Name = 'Path.Join'; Bad = '[System.IO.Path]::Join($a, $b)'; Good = '[System.IO.Path]::Combine($a, $b)' }
        @{ Name = 'Path.GetFullPath(path, basePath)'; Bad = '[System.IO.Path]::GetFullPath($a, $b)'; Good = '[System.IO.Path]::GetFullPath((Join-Path -Path $b -ChildPath $a))' }
        @{ Name = 'System.Text.Json'; Bad = '[System.Text.Json.JsonSerializer]::Serialize($a)'; Good = 'ConvertTo-Json -InputObject $a' }
        @{ Name = 'OperatingSystem.IsWindows'; Bad = '[System.OperatingSystem]::IsWindows()'; Good = '[System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT' }
        @{ Name = 'Environment.ProcessPath'; Bad = '$x = [System.Environment]::ProcessPath'; Good = '$x = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName' }
        @{ Name = 'Environment.ProcessId'; Bad = '$x = [System.Environment]::ProcessId'; Good = '$x = $PID' }
        @{ Name = 'Convert.ToHexString'; Bad = '[System.Convert]::ToHexString($bytes)'; Good = '[System.BitConverter]::ToString($bytes)' }
        @{ Name = 'Math.Clamp'; Bad = '[System.Math]::Clamp($x, 0, 9)'; Good = '[System.Math]::Min([System.Math]::Max($x, 0), 9)' }
        @{ Name = 'SemanticVersion'; Bad = '$v = [System.Management.Automation.SemanticVersion]''1.0.0'''; Good = '$v = [version]''1.0.0''' }
        @{ Name = 'a constructor with no such overload'; Bad = 'New-Object -TypeName System.Text.UTF8Encoding -ArgumentList 1, 2, 3, 4'; Good = 'New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false' }
        @{ Name = 'ProcessStartInfo.ArgumentList'; Bad = "`$info = New-Object -TypeName System.Diagnostics.ProcessStartInfo`n`$info.ArgumentList.Add('x')"; Good = "`$info = New-Object -TypeName System.Diagnostics.ProcessStartInfo`n`$info.Arguments = 'x'" }
        @{ Name = 'ProcessStartInfo.StandardInputEncoding'; Bad = "`$info = [System.Diagnostics.ProcessStartInfo]::new()`n`$info.StandardInputEncoding = `$utf8"; Good = "`$info = [System.Diagnostics.ProcessStartInfo]::new()`nif (`$null -ne `$info.PSObject.Properties['StandardInputEncoding']) {`n    `$info.StandardInputEncoding = `$utf8`n}" }
        @{ Name = 'Process.Kill(entireProcessTree)'; Bad = "`$p = New-Object -TypeName System.Diagnostics.Process`n`$p.Kill(`$true)"; Good = "`$p = New-Object -TypeName System.Diagnostics.Process`n`$p.Kill()" }
    )
    $trapCases = @(
        @{ Name = 'String.Split(string)'; Bad = '$a.Split(''ab'')'; Good = '$a -split ''ab''' }
        @{ Name = 'String.Contains(char)'; Bad = '$a.Contains([char]''x'')'; Good = '$a.Contains(''x'')' }
        @{ Name = 'String.Contains(value, comparison)'; Bad = '$a.Contains(''x'', [System.StringComparison]::OrdinalIgnoreCase)'; Good = '$a.IndexOf(''x'', [System.StringComparison]::OrdinalIgnoreCase) -ge 0' }
        @{ Name = 'String.StartsWith(char)'; Bad = '$a.StartsWith([char]''x'')'; Good = '$a.StartsWith(''x'')' }
        @{ Name = 'String.Replace(old, new, comparison)'; Bad = '$a.Replace(''x'', ''y'', [System.StringComparison]::Ordinal)'; Good = '$a.Replace(''x'', ''y'')' }
        @{ Name = 'Process.Kill($true) on an untyped value'; Bad = '$process.Kill($true)'; Good = 'if ($null -ne $process.GetType().GetMethod(''Kill'', [System.Type[]]@([bool]))) { $process.Kill($true) }' }
        @{ Name = 'ArgumentList.Add'; Bad = '$info.ArgumentList.Add(''x'')'; Good = 'if ($null -ne $info.PSObject.Properties[''ArgumentList'']) { $info.ArgumentList.Add(''x'') }' }
        @{ Name = 'WaitForExitAsync'; Bad = '$null = $process.WaitForExitAsync()'; Good = '$null = $process.WaitForExit(1000)' }
    )
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'rules/PowerShellRules.psm1') -Force
    $packages = Get-NetFrameworkReferencePath
    if ($null -ne $packages) {
        Initialize-NetFrameworkReference -PackagesPath $packages
    }

    function Get-CompatProblem {
        # The 5.1 findings of every rule but the .NET one (or of -Rule alone) for one source.
        param([object] $Source, [string] $Rule)
        $rules = @('Find-Ps51SyntaxViolation', 'Find-Ps51VariableViolation', 'Find-Ps51CommandViolation', 'Find-Ps51DotNetTrapViolation')
        if ($Rule) {
            $rules = @($Rule)
        }
        foreach ($name in $rules) {
            & $name -Source $Source
        }
    }

    function Format-Violation {
        param([object[]] $Violation)
        (@($Violation) | ForEach-Object -Process { '{0} [{1}] {2}' -f $_.Location, $_.Rule, $_.Message }) -join "`n"
    }

    function Assert-RuleCatch {
        # The bad snippet parses under PowerShell 7 (so only the rule can catch it) and is caught; the good one passes.
        param([string] $Rule, [string] $Bad, [string] $Good)
        $badSource = Read-RuleSource -Text $Bad -Label 'bad.ps1'
        $badSource.Errors.Count | Should -Be 0 -Because 'PowerShell 7 parses the seeded code, so only the rule can catch it'
        @(& $Rule -Source $badSource).Count | Should -BeGreaterThan 0 -Because "$Rule catches: $Bad"
        $goodSource = Read-RuleSource -Text $Good -Label 'good.ps1'
        $goodSource.Errors.Count | Should -Be 0
        Format-Violation -Violation @(& $Rule -Source $goodSource) | Should -BeNullOrEmpty -Because "$Rule passes: $Good"
    }
}

Describe 'Windows PowerShell 5.1 compatibility of the repository' {
    It '<File> uses no syntax, variable, command, parameter or .NET overload that 5.1 lacks' -ForEach $fileCases {
        $source = Read-RuleSource -Path $Path -Label $File
        Format-Violation -Violation @(Get-CompatProblem -Source $source) | Should -BeNullOrEmpty
    }

    It '<File> uses only .NET Framework 4.5 types and members' -ForEach $fileCases {
        if ($null -eq $packages) {
            if ($env:CI -eq 'true') {
                throw 'The .NET Framework 4.5 reference assemblies are missing (see the header of tests/Compat51.Tests.ps1).'
            }
            Set-ItResult -Skipped -Because 'the .NET Framework reference assemblies are not installed here'
            return
        }
        $source = Read-RuleSource -Path $Path -Label $File
        Format-Violation -Violation @(Find-NetFrameworkViolation -Source $source) | Should -BeNullOrEmpty
    }
}

Describe 'Each 5.1 rule catches a seeded violation and passes the clean form' {
    It 'syntax: <Name>' -ForEach $syntaxCases {
        Assert-RuleCatch -Rule 'Find-Ps51SyntaxViolation' -Bad $Bad -Good $Good
    }

    It 'variables: <Name>' -ForEach $variableCases {
        Assert-RuleCatch -Rule 'Find-Ps51VariableViolation' -Bad $Bad -Good $Good
    }

    It 'commands and parameters: <Name>' -ForEach $commandCases {
        Assert-RuleCatch -Rule 'Find-Ps51CommandViolation' -Bad $Bad -Good $Good
    }

    It '.NET Framework 4.5: <Name>' -ForEach $netFrameworkCases {
        if ($null -eq $packages) {
            if ($env:CI -eq 'true') {
                throw 'The .NET Framework 4.5 reference assemblies are missing (see the header of tests/Compat51.Tests.ps1).'
            }
            Set-ItResult -Skipped -Because 'the .NET Framework reference assemblies are not installed here'
            return
        }
        Assert-RuleCatch -Rule 'Find-NetFrameworkViolation' -Bad $Bad -Good $Good
    }

    It '.NET overloads that bind differently: <Name>' -ForEach $trapCases {
        Assert-RuleCatch -Rule 'Find-Ps51DotNetTrapViolation' -Bad $Bad -Good $Good
    }

    It 'the 5.1 command table is 5.1''s: its commands exist in PowerShell 7 with the parameters it lists, less the ones 7 dropped' {
        # A sanity check of the data file against this PowerShell: most 5.1 core cmdlets are here,
        # and a parameter the table gives ConvertFrom-Json is one 7 still has.
        $table = Import-PowerShellDataFile -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath 'rules/WindowsPowerShell51Commands.psd1')
        $table['Microsoft.PowerShell.Utility']['ConvertFrom-Json'] | Should -BeExactly 'InputObject'
        ($table['Microsoft.PowerShell.Core']['ForEach-Object'] -split ' ') | Should -Not -Contain 'Parallel'
        ($table['Microsoft.PowerShell.Management']['Get-Content'] -split ' ') | Should -Contain 'Raw'
        $present = @($table['Microsoft.PowerShell.Utility'].Keys | Where-Object { Get-Command -Name $_ -ErrorAction Ignore })
        $present.Count | Should -BeGreaterThan 80
    }
}
