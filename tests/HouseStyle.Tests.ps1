#Requires -Version 7.2
<#
    The house rules PSScriptAnalyzer would enforce on Windows (PSScriptAnalyzerSettings.psd1) and
    nobody checks on Linux, as PowerShell AST rules (tests/rules/PowerShellRules.psm1): ASCII only,
    layout, no aliases, no Write-Host, only the bridge starts processes, one function per file
    (Public/ and Private/) named like it, no $PSScriptRoot in Public/ and Private/, no parameter shadowing. Each rule runs
    over the repository and is shown to catch a seeded violation and to pass the clean form.
#>

BeforeDiscovery {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $allCases = @(
        Get-ChildItem -Path $repositoryRoot -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1', '*.ps1xml', '*.help.txt' |
            ForEach-Object -Process { @{ File = $_.FullName.Substring($repositoryRoot.Length + 1).Replace('\', '/'); Path = $_.FullName } } |
            Where-Object { $_.File -notmatch '^(\.venv|\.git|out)/' }
    )
    $codeCases = @($allCases | Where-Object { $_.File -match '\.(ps1|psm1|psd1)$' })
    # The module's code. build.ps1 and the tests are tooling that must run python, pytest and fake
    # interpreters; they are held to the other rules only.
    $moduleCases = @($codeCases | Where-Object { $_.File -eq 'PrefectWin.psm1' -or $_.File -match '^(Public|Private)/' })
    $functionFileCases = @(
        $codeCases | Where-Object { $_.File -match '^(Public|Private)/' } |
            ForEach-Object -Process { @{ File = $_.File; Path = $_.Path; Folder = $_.File.Split('/')[0]; Stem = [System.IO.Path]::GetFileNameWithoutExtension($_.Path) } }
    )

    $seededCases = @(
        @{ Rule = 'Find-LayoutViolation'; Name = 'tab'; Bad = "function Test-It {`n`tWrite-Output 1`n}"; Good = "function Test-It {`n    Write-Output 1`n}" }
        @{ Rule = 'Find-LayoutViolation'; Name = 'two-space indent'; Bad = "function Test-It {`n  Write-Output 1`n}"; Good = "function Test-It {`n    Write-Output 1`n}" }
        @{ Rule = 'Find-LayoutViolation'; Name = 'brace on its own line'; Bad = "function Test-It`n{`n    Write-Output 1`n}"; Good = "function Test-It {`n    Write-Output 1`n}" }
        @{ Rule = 'Find-LayoutViolation'; Name = 'trailing whitespace'; Bad = 'Write-Output 1   '; Good = "`$x = @'`n  kept   `n'@" }
        @{ Rule = 'Find-WriteHostViolation'; Name = 'Write-Host'; Bad = 'Write-Host ''hello'''; Good = 'Write-Information -MessageData ''hello''' }
        @{ Rule = 'Find-WriteHostViolation'; Name = '[Console]'; Bad = '[Console]::WriteLine(''hello'')'; Good = 'Write-Output ''hello''' }
        @{ Rule = 'Find-AliasViolation'; Name = '?'; Bad = 'Get-Item -Path . | ? { $_ }'; Good = 'Get-Item -Path . | Where-Object { $_ }' }
        @{ Rule = 'Find-AliasViolation'; Name = '%'; Bad = 'Get-Item -Path . | % { $_ }'; Good = 'Get-Item -Path . | ForEach-Object -Process { $_ }' }
        @{ Rule = 'Find-AliasViolation'; Name = 'select'; Bad = 'Get-Item -Path . | select -First 1'; Good = 'Get-Item -Path . | Select-Object -First 1' }
        @{ Rule = 'Find-AliasViolation'; Name = 'ls (a Windows alias PowerShell on Linux lacks)'; Bad = 'ls'; Good = 'Get-ChildItem' }
        @{ Rule = 'Find-AliasViolation'; Name = 'iex'; Bad = 'iex $command'; Good = 'Get-Date' }
        @{ Rule = 'Find-StringVariableViolation'; Name = 'drive-qualified variable in a string'; Bad = 'Write-Verbose -Message "at $path:line"'; Good = 'Write-Verbose -Message "${path}: $env:TEMP $script:x"' }
        @{ Rule = 'Find-ParameterShadowingViolation'; Name = 'assignment spelled otherwise'; Bad = "function Install-It {`n    param([string] `$Bootstrap)`n    `$bootstrap = @('py', '-3')`n}"; Good = "function Install-It {`n    param([string] `$Bootstrap)`n    `$Bootstrap = `$Bootstrap.Trim()`n}" }
        @{ Rule = 'Find-ParameterShadowingViolation'; Name = 'foreach over a parameter'; Bad = "function Install-It {`n    param([string] `$Bootstrap)`n    foreach (`$bootstrap in @(1)) { `$bootstrap }`n}"; Good = "function Install-It {`n    param([string] `$Bootstrap)`n    foreach (`$item in @(1)) { `$item }`n}" }
        @{ Rule = 'Find-PSScriptRootViolation'; Name = '$PSScriptRoot'; Bad = '$root = Split-Path -Path $PSScriptRoot -Parent'; Good = '$root = $script:PrefectWinModuleRoot' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'Start-Process'; Bad = 'Start-Process -FilePath nssm.exe'; Good = 'Get-Process -Id $PID' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = '[Diagnostics.Process]::Start'; Bad = '$null = [System.Diagnostics.Process]::Start(''python.exe'')'; Good = '$null = [System.Diagnostics.Stopwatch]::StartNew()' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'New-Object ProcessStartInfo'; Bad = '$info = New-Object -TypeName System.Diagnostics.ProcessStartInfo'; Good = '$info = New-Object -TypeName System.Text.StringBuilder' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = '[ProcessStartInfo]::new()'; Bad = '$info = [Diagnostics.ProcessStartInfo]::new()'; Good = '$info = [System.Text.StringBuilder]::new()' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = '& program'; Bad = '& python -m prefectwin rpc'; Good = '& { Write-Output 1 }' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = '& $variable'; Bad = '& $python -m prefectwin rpc'; Good = 'Invoke-PrefectBackend -Command ''module.version''' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'bare program'; Bad = 'nssm.exe install PrefectServer'; Good = 'Get-Service -Name PrefectServer' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'Invoke-Expression'; Bad = 'Invoke-Expression $command'; Good = 'Get-Date' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'WScript.Shell'; Bad = '$shell = New-Object -ComObject ''WScript.Shell'''; Good = '$shell = New-Object -TypeName System.Text.StringBuilder' }
        @{ Rule = 'Find-ProcessStartViolation'; Name = 'dot-sourcing (allowed only in the root module)'; Bad = "foreach (`$file in `$files) {`n    . `$file.FullName`n}"; Good = "foreach (`$file in `$files) {`n    Write-Output `$file.FullName`n}" }
    )
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'rules/PowerShellRules.psm1') -Force
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    # Files that break a rule on purpose, each as 'path' = @{ Pattern = '...'; Reason = '...' }.
    # None today: Private/Invoke-PrefectDscResource.ps1, which held several functions, is now one.
    $knownExceptions = @{}

    function Format-Violation {
        param([object[]] $Violation)
        (@($Violation) | ForEach-Object -Process { '{0} [{1}] {2}' -f $_.Location, $_.Rule, $_.Message }) -join "`n"
    }
}

Describe 'House style of the repository' {
    It '<File> is ASCII only' -ForEach $allCases {
        $source = Read-RuleSource -Path $Path -Label $File
        Format-Violation -Violation @(Find-AsciiViolation -Source $source) | Should -BeNullOrEmpty
    }

    It '<File> keeps the layout, uses no alias, no Write-Host, no drive-qualified string variable and shadows no parameter' -ForEach $codeCases {
        $source = Read-RuleSource -Path $Path -Label $File
        $found = @(Find-LayoutViolation -Source $source) + @(Find-WriteHostViolation -Source $source) + @(Find-AliasViolation -Source $source) +
            @(Find-StringVariableViolation -Source $source) + @(Find-ParameterShadowingViolation -Source $source)
        Format-Violation -Violation $found | Should -BeNullOrEmpty
    }

    # The bridge is the one place that starts a process; its own test follows.
    It '<File> starts no process (only Private/Start-PrefectBackend.ps1 does)' -ForEach @($moduleCases | Where-Object -FilterScript { $_.File -ne 'Private/Start-PrefectBackend.ps1' }) {
        $source = Read-RuleSource -Path $Path -Label $File
        Format-Violation -Violation @(Find-ProcessStartViolation -Source $source -AllowDotSource:($File -eq 'PrefectWin.psm1')) | Should -BeNullOrEmpty
    }

    It '<File> holds functions named like the file, advanced, described and with approved verbs, and no $PSScriptRoot' -ForEach $functionFileCases {
        $source = Read-RuleSource -Path $Path -Label $File
        $found = @(Find-FileFunctionViolation -Source $source -FileStem $Stem -Folder $Folder) + @(Find-PSScriptRootViolation -Source $source)
        if ($knownExceptions.ContainsKey($File)) {
            # Pinned, so that the day the file is split or renamed this fails and the entry goes.
            $found = @($found | Where-Object { $_.Message -notmatch $knownExceptions[$File].Pattern })
            @(Find-FileFunctionViolation -Source $source -FileStem $Stem -Folder $Folder | Where-Object { $_.Message -match $knownExceptions[$File].Pattern }).Count | Should -Be 1
        }
        Format-Violation -Violation $found | Should -BeNullOrEmpty
    }

    It 'the bridge starts the backend in one place: ProcessStartInfo with a constant argument list, in the module''s folder' {
        # The exemption above covers exactly this: 'serve', started in the module's folder (never
        # the user's location, whose stray pydantic.py would shadow the backend), with the
        # location sent as cwd, and no Start-Process, Invoke-Expression or '&' call.
        $source = Read-RuleSource -Path (Join-Path -Path $repositoryRoot -ChildPath 'Private/Start-PrefectBackend.ps1') -Label 'Private/Start-PrefectBackend.ps1'
        $text = $source.Text
        ([regex]::Matches($text, 'New-Object -TypeName System\.Diagnostics\.ProcessStartInfo')).Count | Should -Be 1
        $text | Should -Match ([regex]::Escape("@('-X', 'utf8', '-m', 'prefectwin', 'serve')"))
        $text | Should -Match ([regex]::Escape('$startInfo.WorkingDirectory = $script:PrefectWinModuleRoot'))
        $text | Should -Match ([regex]::Escape('UseShellExecute = $false'))
        $request = (Read-RuleSource -Path (Join-Path -Path $repositoryRoot -ChildPath 'Private/ConvertTo-PrefectRequestJson.ps1') -Label 'request').Text
        $request | Should -Match ([regex]::Escape('$request[''cwd''] = $Location'))
        (Read-RuleSource -Path (Join-Path -Path $repositoryRoot -ChildPath 'Private/Invoke-PrefectBackend.ps1') -Label 'bridge').Text | Should -Match 'CurrentFileSystemLocation'
        $found = @(Find-ProcessStartViolation -Source $source | Where-Object { $_.Message -match 'Start-Process|Invoke-Expression|invoked with' })
        Format-Violation -Violation $found | Should -BeNullOrEmpty
    }
}

Describe 'Each house rule catches a seeded violation and passes the clean form' {
    It '<Rule>: <Name>' -ForEach $seededCases {
        $badSource = Read-RuleSource -Text $Bad -Label 'Private/Bad.ps1'
        $badSource.Errors.Count | Should -Be 0
        @(& $Rule -Source $badSource).Count | Should -BeGreaterThan 0 -Because "$Rule catches: $Bad"
        $goodSource = Read-RuleSource -Text $Good -Label 'Private/Good.ps1'
        Format-Violation -Violation @(& $Rule -Source $goodSource) | Should -BeNullOrEmpty
    }

    It 'ascii: a non-ASCII character and a BOM' {
        @(Find-AsciiViolation -Source (Read-RuleSource -Text "Write-Output 'caf$([char]0xE9)'")).Count | Should -Be 1
        $bom = [PSCustomObject]@{ Label = 'bom.ps1'; Bytes = [byte[]](0xEF, 0xBB, 0xBF, 0x31) }
        @(Find-AsciiViolation -Source $bom).Count | Should -Be 1 -Because 'a BOM is not ASCII'
        @(Find-AsciiViolation -Source (Read-RuleSource -Text "Write-Output 'cafe'")).Count | Should -Be 0
    }

    It 'process: dot-sourcing passes where it is allowed' {
        $source = Read-RuleSource -Text "foreach (`$file in `$files) {`n    . `$file.FullName`n}"
        @(Find-ProcessStartViolation -Source $source -AllowDotSource).Count | Should -Be 0
    }

    It 'file functions: <Name>' -ForEach @(
        @{ Name = 'two functions in a Private/ file'; Folder = 'Private'; Text = "function Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}`nfunction Get-PrefectHelper {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"; Expected = 'exactly one: move Get-PrefectHelper' }
        @{ Name = 'two functions in a Public/ file'; Folder = 'Public'; Text = "function Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}`nfunction Get-PrefectOther {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"; Expected = 'exactly one' }
        @{ Name = 'named unlike the file'; Folder = 'Private'; Text = "function Get-PrefectOther {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"; Expected = 'name them alike' }
        @{ Name = 'code at import'; Folder = 'Public'; Text = "`$script:x = 1`nfunction Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"; Expected = 'runs at import' }
        @{ Name = 'not an approved verb'; Folder = 'Private'; Text = "function Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}`nfunction Fetch-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"; Expected = 'approved verb' }
        @{ Name = 'no CmdletBinding'; Folder = 'Private'; Text = "function Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    param()`n}"; Expected = 'CmdletBinding' }
        @{ Name = 'no synopsis'; Folder = 'Private'; Text = "function Get-PrefectThing {`n    [CmdletBinding()]`n    param()`n}"; Expected = 'SYNOPSIS' }
    ) {
        $good = "function Get-PrefectThing {`n    <#`n    .SYNOPSIS`n    x`n    #>`n    [CmdletBinding()]`n    param()`n}"
        Format-Violation -Violation @(Find-FileFunctionViolation -Source (Read-RuleSource -Text $good) -FileStem 'Get-PrefectThing' -Folder $Folder) | Should -BeNullOrEmpty
        Format-Violation -Violation @(Find-FileFunctionViolation -Source (Read-RuleSource -Text $Text) -FileStem 'Get-PrefectThing' -Folder $Folder) | Should -Match $Expected
    }
}
