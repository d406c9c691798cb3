#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    The module as PowerShell itself sees it, with no mocks: Import-Module and Test-ModuleManifest
    on the source tree and on the built module (tools/build_module.py, what './build.ps1 Build'
    runs, into a temporary folder); every public cmdlet's parameters, read with Get-Command,
    against its backend command's schema ('python -m prefectwin rpc --schema'); ShouldProcess
    exactly on the state-changing commands; the format views rendered by Format-Table; and help
    read by Get-Help. The backend interpreter is Resolve-PrefectPython's ($env:PREFECTWIN_PYTHON).
#>

BeforeDiscovery {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $publicCases = @(
        Get-ChildItem -Path (Join-Path -Path $repositoryRoot -ChildPath 'Public') -Filter '*.ps1' | Sort-Object -Property Name |
            ForEach-Object -Process { @{ Name = $_.BaseName; Path = $_.FullName } }
    )
}

BeforeAll {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $manifestPath = Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.psd1'
    $prefectWin = Import-Module -Name $manifestPath -Force -PassThru
    $python = & $prefectWin { Resolve-PrefectPython -Force }
    $schemaText = & $python.Path @($python.PrefixArgs) -X utf8 -m prefectwin rpc --schema
    $schema = ($schemaText -join "`n") | ConvertFrom-Json
    $manifestData = Import-PowerShellDataFile -LiteralPath $manifestPath
    # The public cmdlets set apart, each with its reason (also read by tests/bridge/test_contract.py).
    $exceptions = Get-Content -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath 'public-cmdlets.json') -Raw | ConvertFrom-Json
    $sessionCmdlets = @($exceptions.sessionCmdlets.PSObject.Properties | ForEach-Object -Process { $_.Name })
    $powerShellOnly = @{}
    foreach ($entry in @($exceptions.powerShellOnlyParameters.PSObject.Properties)) {
        $reasons = @{}
        foreach ($parameter in @($entry.Value.PSObject.Properties)) {
            $reasons[$parameter.Name] = [string]$parameter.Value
        }
        $powerShellOnly[$entry.Name] = $reasons
    }
    # What a session cmdlet calls instead of a backend command: the bridge's own process.
    $sessionHelpers = @('Close-PrefectBackendSession', 'Get-PrefectBackendSession', 'Open-PrefectBackendSession')
    $common = @([System.Management.Automation.Cmdlet]::CommonParameters) + @([System.Management.Automation.Cmdlet]::OptionalCommonParameters)

    function Get-BackendCommandName {
        # The one literal -Command 'family.verb' a public function sends (Invoke-PrefectBackend or Invoke-PrefectPlan).
        param([System.Management.Automation.FunctionInfo] $Command)
        $calls = $Command.ScriptBlock.Ast.FindAll({
                param($node)
                $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -in @('Invoke-PrefectBackend', 'Invoke-PrefectPlan')
            }, $true)
        foreach ($call in $calls) {
            $bound = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($call, $false)
            [PSCustomObject]@{
                Helper = $call.GetCommandName()
                Command = $bound.BoundParameters['Command'].ConstantValue
            }
        }
    }

    function Resolve-SchemaVariant {
        # The non-null alternatives of a property schema (anyOf/oneOf flattened, $refs resolved).
        param([object] $Property, [object] $Root)
        if ($null -ne $Property.PSObject.Properties['$ref']) {
            $name = $Property.'$ref'.Split('/')[-1]
            return Resolve-SchemaVariant -Property $Root.'$defs'.$name -Root $Root
        }
        foreach ($key in @('anyOf', 'oneOf')) {
            if ($null -ne $Property.PSObject.Properties[$key]) {
                foreach ($option in $Property.$key) {
                    Resolve-SchemaVariant -Property $option -Root $Root
                }
                return
            }
        }
        if ($null -ne $Property.PSObject.Properties['type'] -and $Property.type -eq 'null') {
            return
        }
        $Property
    }

    function Get-SchemaEnum {
        param([object] $Property, [object] $Root)
        foreach ($variant in @(Resolve-SchemaVariant -Property $Property -Root $Root)) {
            if ($null -ne $variant.PSObject.Properties['enum']) {
                return , @($variant.enum)
            }
            if ($null -ne $variant.PSObject.Properties['items']) {
                $inner = Get-SchemaEnum -Property $variant.items -Root $Root
                if ($null -ne $inner) {
                    return , $inner
                }
            }
        }
        $null
    }

    function Test-SchemaType {
        # Whether the parameter's .NET type carries the schema's JSON type.
        param([type] $Type, [object[]] $Variants)
        $families = @{
            integer = @([int], [long], [int16], [byte], [uint16], [uint32], [uint64])
            number = @([double], [single], [decimal], [int], [long])
            string = @([string])
            boolean = @([switch], [bool])
            object = @([hashtable], [System.Collections.IDictionary], [System.Management.Automation.PSCredential])
        }
        foreach ($variant in $Variants) {
            $kind = if ($null -ne $variant.PSObject.Properties['type']) { $variant.type } else { 'enum' }
            if ($kind -eq 'array' -and $Type.IsArray) {
                return $true
            }
            if ($kind -eq 'string' -and $null -ne $variant.PSObject.Properties['format'] -and $variant.format -eq 'password' -and $Type -eq [securestring]) {
                return $true
            }
            if ($kind -eq 'string' -and $null -ne $variant.PSObject.Properties['format'] -and $variant.format -eq 'date-time' -and $Type -eq [datetime]) {
                return $true
            }
            if ($kind -eq 'enum' -and $Type -eq [string]) {
                return $true
            }
            if ($families.ContainsKey($kind) -and $families[$kind] -contains $Type) {
                return $true
            }
        }
        $false
    }
}

Describe 'The source module and the built module' {
    BeforeAll {
        $buildRoot = Join-Path -Path $TestDrive -ChildPath 'out'
        $builder = Join-Path -Path (Join-Path -Path $repositoryRoot -ChildPath 'tools') -ChildPath 'build_module.py'
        $built = (& $python.Path @($python.PrefixArgs) $builder --out $buildRoot | Select-Object -Last 1)
        $LASTEXITCODE | Should -Be 0
        $builtManifest = Join-Path -Path $built -ChildPath 'PrefectWin.psd1'
    }

    It 'builds into a folder outside the work tree, named PrefectWin/<version>' {
        $built | Should -BeLike "$buildRoot*"
        Split-Path -Path $built -Leaf | Should -BeExactly $manifestData.ModuleVersion
        Test-Path -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'out' | Join-Path -ChildPath 'PrefectWin' | Join-Path -ChildPath 'never') | Should -BeFalse
    }

    It 'has the files the module and its build need' {
        foreach ($name in @('PrefectWin.psd1', 'PrefectWin.psm1', 'PrefectWin.Format.ps1xml', 'Private/Invoke-PrefectBackend.ps1', 'build.ps1', 'PSScriptAnalyzerSettings.psd1', 'en-US/about_PrefectWin.help.txt')) {
            Test-Path -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath $name) -PathType Leaf | Should -BeTrue -Because "$name is part of the module"
        }
    }

    It 'names the module for the gallery: a GUID of its own, a major.minor.patch version, explicit export lists' {
        $guid = [guid]::Empty
        [guid]::TryParseExact([string]$manifestData.GUID, 'D', [ref]$guid) | Should -BeTrue -Because "the GUID '$($manifestData.GUID)' is 8-4-4-4-12 hex digits"
        $guid | Should -Not -Be ([guid]::Empty)
        $manifestData.ModuleVersion | Should -Match '^\d+\.\d+\.\d+$'
        foreach ($key in @('FunctionsToExport', 'DscResourcesToExport')) {
            $names = @($manifestData[$key])
            @($names | Where-Object { $_ -match '[*?\[]' }).Count | Should -Be 0 -Because "$key lists names, no wildcards"
            @($names | Sort-Object -Unique).Count | Should -Be $names.Count -Because "$key lists each name once"
        }
        @($manifestData.FormatsToProcess) | Should -Be @('PrefectWin.Format.ps1xml')
    }

    It 'passes Test-ModuleManifest: <Layout>' -ForEach @(@{ Layout = 'source' }, @{ Layout = 'built' }) {
        $path = if ($Layout -eq 'source') { $manifestPath } else { $builtManifest }
        $manifest = Test-ModuleManifest -Path $path -ErrorAction Stop
        $manifest.Version | Should -Be ([version]$manifestData.ModuleVersion)
        $manifest.PowerShellVersion | Should -Be ([version]'5.1')
        @($manifest.CompatiblePSEditions) -join ',' | Should -BeExactly 'Desktop,Core'
        $manifest.RootModule | Should -BeExactly 'PrefectWin.psm1'
        @($manifest.ExportedFunctions.Keys | Sort-Object) -join ',' | Should -BeExactly (@(Get-ChildItem -Path (Join-Path -Path $repositoryRoot -ChildPath 'Public') -Filter '*.ps1' | ForEach-Object -Process { $_.BaseName } | Sort-Object) -join ',')
        $manifest.ExportedCmdlets.Count | Should -Be 0
        $manifest.ExportedAliases.Count | Should -Be 0
        $manifest.ExportedVariables.Count | Should -Be 0
        @($manifest.ExportedFormatFiles | ForEach-Object -Process { Split-Path -Path $_ -Leaf }) | Should -Be @('PrefectWin.Format.ps1xml')
    }

    It 'imports and runs a cmdlet against the real backend: <Layout>' -ForEach @(@{ Layout = 'source' }, @{ Layout = 'built' }) {
        $path = if ($Layout -eq 'source') { $manifestPath } else { $builtManifest }
        # A fresh process, so the two layouts cannot see each other's functions.
        $script = "`$m = Import-Module -Name '$path' -PassThru -ErrorAction Stop; `$m.ModuleBase; @(`$m.ExportedFunctions.Keys).Count; @(`$m.ExportedDscResources).Count; (Test-PrefectEnvironment -Check 'encoding').PSObject.TypeNames[0]"
        # This PowerShell's own executable (PowerShell 7 here may be a .NET tool run by dotnet).
        $pwsh = @(Get-Command -Name $(if ($PSVersionTable.PSEdition -eq 'Core') { 'pwsh' } else { 'powershell' }) -CommandType Application)[0].Path
        $lines = @(& $pwsh -NoProfile -NonInteractive -Command $script)
        $LASTEXITCODE | Should -Be 0
        $lines[0] | Should -BeExactly (Split-Path -Path $path -Parent)
        [int]$lines[1] | Should -Be $manifestData.FunctionsToExport.Count
        [int]$lines[2] | Should -Be $manifestData.DscResourcesToExport.Count
        $lines[3] | Should -BeExactly 'PrefectWin.CheckResult'
    }

    It 'keeps the manifest''s export lists explicit, sorted and one name per line' {
        $manifestData.FunctionsToExport | Should -Be @($manifestData.FunctionsToExport | Sort-Object)
        $manifestData.DscResourcesToExport | Should -Be @($manifestData.DscResourcesToExport | Sort-Object)
        foreach ($key in @('CmdletsToExport', 'AliasesToExport', 'VariablesToExport')) {
            @($manifestData[$key]).Count | Should -Be 0 -Because "$key is @()"
        }
        $tokens = $null
        $errors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseFile($manifestPath, [ref]$tokens, [ref]$errors)
        $names = @($tokens | Where-Object { $_.Kind -eq 'StringLiteral' -and $manifestData.FunctionsToExport -contains $_.Value })
        @($names | ForEach-Object -Process { $_.Extent.StartLineNumber } | Sort-Object -Unique).Count | Should -Be $names.Count -Because 'parallel additions merge cleanly'
    }

    It 'exports from the built psm1 every Private/ and Public/ function once, with no dot-sourcing left' {
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path -Path $built -ChildPath 'PrefectWin.psm1'), [ref]$tokens, [ref]$errors)
        @($errors).Count | Should -Be 0
        $defined = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $node.Parent.Parent -is [System.Management.Automation.Language.ScriptBlockAst] }, $false) | ForEach-Object -Process { $_.Name })
        $expected = foreach ($folder in @('Private', 'Public')) {
            foreach ($file in @(Get-ChildItem -Path (Join-Path -Path $repositoryRoot -ChildPath $folder) -Filter '*.ps1')) {
                $fileAst = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$null, [ref]$null)
                @($fileAst.EndBlock.Statements | Where-Object { $_ -is [System.Management.Automation.Language.FunctionDefinitionAst] } | ForEach-Object -Process { $_.Name })
            }
        }
        ($defined | Sort-Object) -join ',' | Should -BeExactly (($expected | Sort-Object) -join ',')
        # Nothing is dot-sourced or run with '&': the module is this one file.
        @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.InvocationOperator.ToString() -ne 'Unknown' }, $true)).Count | Should -Be 0
        # One literal Export-ModuleMember, which is the manifest's list (and so Public/).
        $exports = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -eq 'Export-ModuleMember' }, $true))
        $exports.Count | Should -Be 1
        $exported = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($exports[0], $false).BoundParameters['Function'].Value.SafeGetValue()
        @($exported) -join ',' | Should -BeExactly ($manifestData.FunctionsToExport -join ',')
        $classes = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.TypeDefinitionAst] -and $node.IsClass }, $true) | ForEach-Object -Process { $_.Name })
        ($classes | Sort-Object) -join ',' | Should -BeExactly ($manifestData.DscResourcesToExport -join ',')
    }

    It 'sets apart only real cmdlets and parameters, each with its reason (tests/public-cmdlets.json)' {
        foreach ($name in $sessionCmdlets) {
            $prefectWin.ExportedFunctions.Keys | Should -Contain $name
            ([string]$exceptions.sessionCmdlets.$name).Trim() | Should -Not -BeNullOrEmpty -Because "$name needs its reason"
        }
        foreach ($name in $powerShellOnly.Keys) {
            $prefectWin.ExportedFunctions.Keys | Should -Contain $name
            foreach ($parameter in $powerShellOnly[$name].Keys) {
                (Get-Command -Name $name -Module PrefectWin).Parameters.Keys | Should -Contain $parameter
                $powerShellOnly[$name][$parameter].Trim() | Should -Not -BeNullOrEmpty -Because "$name -$parameter needs its reason"
            }
        }
    }

    It 'keeps the house style, Windows PowerShell 5.1 compatibility and the DSC rules in the built psm1' {
        # The build adds text of its own (file headers, Export-ModuleMember) to sources that
        # tests/HouseStyle.Tests.ps1 and tests/Compat51.Tests.ps1 judge one by one.
        if ($PSVersionTable.PSVersion.Major -lt 7) {
            Set-ItResult -Skipped -Because 'the rules (tests/rules/PowerShellRules.psm1) run under PowerShell 7'
            return
        }
        Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'rules/PowerShellRules.psm1') -Force
        $source = Read-RuleSource -Path (Join-Path -Path $built -ChildPath 'PrefectWin.psm1') -Label 'out/PrefectWin.psm1'
        $found = foreach ($rule in @('Find-AsciiViolation', 'Find-LayoutViolation', 'Find-WriteHostViolation', 'Find-AliasViolation', 'Find-StringVariableViolation', 'Find-ParameterShadowingViolation', 'Find-Ps51SyntaxViolation', 'Find-Ps51VariableViolation', 'Find-Ps51CommandViolation', 'Find-Ps51DotNetTrapViolation', 'Find-DscResourceViolation')) {
            & $rule -Source $source
        }
        (@($found) | ForEach-Object -Process { '{0} [{1}] {2}' -f $_.Location, $_.Rule, $_.Message }) -join "`n" | Should -BeNullOrEmpty
        $text = Get-Content -LiteralPath (Join-Path -Path $built -ChildPath 'PrefectWin.psm1') -Raw
        $text.IndexOf('function Invoke-PrefectDscResource') | Should -BeLessThan $text.IndexOf('class PrefectService') -Because 'the classes follow the functions they call, as in the root module'
    }
}

Describe 'Public cmdlet <Name>' -ForEach $publicCases {
    BeforeAll {
        $command = Get-Command -Name $Name -Module PrefectWin
        $declared = @($command.Parameters.Keys | Where-Object { $common -notcontains $_ })
        $calls = @(Get-BackendCommandName -Command $command)
        $isSession = $sessionCmdlets -contains $Name
    }

    It 'is an advanced function with a PrefectWin output type, an approved verb and a singular Prefect noun' {
        $command.CmdletBinding | Should -BeTrue
        @($command.OutputType).Count | Should -BeGreaterThan 0
        @($command.OutputType | ForEach-Object -Process { $_.Name }) | ForEach-Object -Process { $_ | Should -BeLike 'PrefectWin.*' }
        @(Get-Verb | ForEach-Object -Process { $_.Verb }) | Should -Contain $command.Verb
        $command.Noun | Should -BeLike 'Prefect*'
        $command.Noun | Should -Not -Match '[^su]s$'
        $body = @($command.ScriptBlock.Ast.Body.EndBlock.Statements | ForEach-Object -Process { $_.Extent.Text -split '\r?\n' } | Where-Object { $_.Trim() -and -not $_.Trim().StartsWith('#') })
        $body.Count | Should -BeLessOrEqual 30 -Because 'a public function is about 30 lines; logic belongs in Python'
    }

    It 'returns the objects its [OutputType] names' {
        $converted = @($command.ScriptBlock.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -eq 'ConvertTo-PrefectObject' }, $true))
        foreach ($conversion in $converted) {
            $typeName = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($conversion, $false).BoundParameters['TypeName'].ConstantValue
            @($command.OutputType | ForEach-Object -Process { $_.Name }) | Should -Contain "PrefectWin.$typeName"
        }
    }

    It 'sends exactly one backend command, a literal, that the backend has; its parameters are that command''s params model' {
        if ($isSession) {
            $calls.Count | Should -Be 0 -Because 'a session cmdlet sends no backend command of its own'
            return
        }
        @($calls | ForEach-Object -Process { $_.Command } | Sort-Object -Unique).Count | Should -Be 1
        $backendName = $calls[0].Command
        $backendName | Should -BeOfType ([string])
        $schema.commands.PSObject.Properties.Name | Should -Contain $backendName
        $model = $schema.commands.$backendName.params
        $properties = @($model.properties.PSObject.Properties)
        $required = @($model.PSObject.Properties['required'] | ForEach-Object -Process { $_.Value })
        $extra = if ($powerShellOnly.ContainsKey($Name)) { $powerShellOnly[$Name] } else { @{} }
        foreach ($parameter in $declared) {
            if ($extra.ContainsKey($parameter)) {
                continue
            }
            $field = $parameter.Substring(0, 1).ToLowerInvariant() + $parameter.Substring(1)
            $properties.Name | Should -Contain $field -Because "-$parameter is the params field '$field' of $backendName"
        }
        foreach ($property in $properties) {
            $parameterName = $property.Name.Substring(0, 1).ToUpperInvariant() + $property.Name.Substring(1)
            $declared | Should -Contain $parameterName -Because "$backendName's field '$($property.Name)' is a parameter"
            $metadata = $command.Parameters[$parameterName]
            $variants = @(Resolve-SchemaVariant -Property $property.Value -Root $model)
            Test-SchemaType -Type $metadata.ParameterType -Variants $variants | Should -BeTrue -Because "-$parameterName is [$($metadata.ParameterType.Name)] and the schema says $(($variants | ForEach-Object -Process { $_.PSObject.Properties['type'].Value }) -join '/')"
            $mandatory = @($metadata.ParameterSets.Values | Where-Object { $_.IsMandatory }).Count -gt 0
            if ($required -contains $property.Name) {
                $mandatory | Should -BeTrue -Because "the backend requires '$($property.Name)'"
            }
            $set = @($metadata.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] })
            $enum = Get-SchemaEnum -Property $property.Value -Root $model
            if ($null -ne $enum) {
                $set.Count | Should -Be 1 -Because "-$parameterName takes the schema's enum"
                ($set[0].ValidValues -join ',') | Should -BeExactly ($enum -join ',')
            } else {
                $set.Count | Should -Be 0 -Because "the schema accepts any -$parameterName"
            }
            $range = @($metadata.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] })
            $bounded = @($variants | Where-Object { $null -ne $_.PSObject.Properties['minimum'] -and $null -ne $_.PSObject.Properties['maximum'] })
            if ($bounded.Count -gt 0) {
                $range.Count | Should -Be 1 -Because "-$parameterName has the schema's bounds"
                $range[0].MinRange | Should -Be $bounded[0].minimum
                $range[0].MaxRange | Should -Be $bounded[0].maximum
            }
        }
        # Defaults: only bound parameters are sent, so a PowerShell default must equal the backend's.
        foreach ($parameterAst in @($command.ScriptBlock.Ast.Body.ParamBlock.Parameters | Where-Object { $null -ne $_.DefaultValue })) {
            $parameterName = $parameterAst.Name.VariablePath.UserPath
            $field = $parameterName.Substring(0, 1).ToLowerInvariant() + $parameterName.Substring(1)
            $property = $model.properties.PSObject.Properties[$field]
            $property | Should -Not -BeNullOrEmpty
            $property.Value.PSObject.Properties.Name | Should -Contain 'default' -Because "-$parameterName has a PowerShell default, and so must the backend"
            $parameterAst.DefaultValue.SafeGetValue() | Should -Be $property.Value.default
        }
    }

    It 'asks ShouldProcess exactly when its backend command changes state' {
        $asks = $command.Parameters.ContainsKey('WhatIf') -and $command.Parameters.ContainsKey('Confirm')
        if ($isSession) {
            $asks | Should -Be ($command.Verb -in @('Start', 'Stop')) -Because 'starting or stopping the backend is state, if only the module''s own'
            return
        }
        $changes = [bool]$schema.commands.($calls[0].Command).changesState
        $asks | Should -Be $changes
        $helpers = @($calls | ForEach-Object -Process { $_.Helper } | Sort-Object -Unique)
        $helpers | Should -Be @($(if ($changes) { 'Invoke-PrefectPlan' } else { 'Invoke-PrefectBackend' }))
    }

    It 'as a session cmdlet, calls exactly one session helper, returns PrefectWin.Session and asks ShouldProcess before it starts or stops' {
        $helpers = @($command.ScriptBlock.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $sessionHelpers -contains $node.GetCommandName() }, $true) | ForEach-Object -Process { $_.GetCommandName() })
        if (-not $isSession) {
            $helpers.Count | Should -Be 0 -Because 'only the session cmdlets manage the session''s process'
            return
        }
        $helpers.Count | Should -Be 1
        @($command.OutputType | ForEach-Object -Process { $_.Name }) | Should -Be @('PrefectWin.Session')
        $asks = @($command.ScriptBlock.Ast.FindAll({
                    param($node)
                    $node -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and $node.Member.Extent.Text -eq 'ShouldProcess' -and $node.Expression.Extent.Text -eq '$PSCmdlet'
                }, $true)).Count -gt 0
        $asks | Should -Be ($command.Verb -in @('Start', 'Stop')) -Because 'starting or stopping the backend is state; reporting it is not'
    }

    It 'has help that Get-Help shows: a synopsis, a description, every parameter and at least two examples' {
        $help = Get-Help -Name $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *[<CommonParameters>]*" -Because 'that is the generated syntax, shown when there is no help'
        @($help.description).Count | Should -BeGreaterThan 0
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $example.code | Should -Match ([regex]::Escape($Name)) -Because 'each example calls the cmdlet'
            $tokens = $null
            $errors = $null
            $exampleAst = [System.Management.Automation.Language.Parser]::ParseInput($example.code, [ref]$tokens, [ref]$errors)
            @($errors).Count | Should -Be 0 -Because "the example parses: $($example.code)"
            @($exampleAst.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object -Process { $_.GetCommandName() }) | Should -Contain $Name -Because "the example calls ${Name}: $($example.code)"
            foreach ($call in @($exampleAst.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -like '*-Prefect*' }, $true))) {
                $called = Get-Command -Name $call.GetCommandName() -Module PrefectWin
                $call.GetCommandName() | Should -BeExactly $called.Name
                foreach ($parameterAst in @($call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] })) {
                    $called.Parameters.Keys | Should -Contain $parameterAst.ParameterName -Because "the example passes -$($parameterAst.ParameterName) to $($called.Name)"
                }
            }
        }
        $documented = @($help.parameters.parameter | ForEach-Object -Process { $_.name })
        foreach ($parameter in $declared) {
            $documented | Should -Contain $parameter
            (@($help.parameters.parameter | Where-Object { $_.name -eq $parameter })[0].description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter is described"
        }
    }
}

Describe 'Help topics and format views' {
    It 'Get-Help about_PrefectWin finds the about topic, with its sections' {
        $topic = Get-Help -Name 'about_PrefectWin' | Out-String
        $topic | Should -Match 'about_PrefectWin'
        foreach ($heading in @('ARCHITECTURE', 'PYTHON RESOLUTION ORDER', 'SESSIONS', 'DSC', 'TROUBLESHOOTING')) {
            $topic | Should -Match $heading
        }
    }

    It 'the about topic covers the topics of the issue, with the resolution order as Resolve-PrefectPython has it' {
        $text = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'en-US/about_PrefectWin.help.txt') -Raw
        $headings = @($text -split '\r?\n' | Where-Object { $_ -and $_ -notmatch '^\s' } | ForEach-Object -Process { $_.Trim() })
        foreach ($heading in @('TOPIC', 'ARCHITECTURE', 'PYTHON RESOLUTION ORDER', 'SESSIONS', 'REMOTING TO MANY HOSTS', 'DSC', 'TROUBLESHOOTING', 'SEE ALSO')) {
            $headings | Should -Contain $heading
        }
        $text | Should -Match ([regex]::Escape('Invoke-Command -ComputerName $hosts -ScriptBlock {'))
        $text | Should -Match ([regex]::Escape('docs/protocol.md'))
        # The numbered list: each step's marker at the end of its line or in it, in this order.
        $positions = @(foreach ($marker in @('PREFECTWIN_PYTHON\r?$', 'config\.json\r?$', '\.venv in the module', "py -3'", 'WindowsApps')) {
                $match = [regex]::Match($text, $marker, [System.Text.RegularExpressions.RegexOptions]::Multiline)
                $match.Success | Should -BeTrue -Because "the resolution order names $marker"
                $match.Index
            })
        ($positions -join ',') | Should -BeExactly (($positions | Sort-Object) -join ',')
    }

    It 'the about topic''s PS> examples call only parameters the cmdlets have' {
        $text = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'en-US/about_PrefectWin.help.txt') -Raw
        $snippets = New-Object -TypeName 'System.Collections.Generic.List[string]'
        foreach ($line in ($text -split '\r?\n')) {
            $trimmed = $line.Trim()
            if ($trimmed.StartsWith('PS> ')) {
                $snippets.Add($trimmed.Substring(4))
            } elseif (($trimmed -eq '>>' -or $trimmed.StartsWith('>> ')) -and $snippets.Count -gt 0) {
                $snippets[$snippets.Count - 1] += "`n" + $line.Split('>', 3)[2]
            }
        }
        $snippets.Count | Should -BeGreaterOrEqual 15
        $called = @{}
        foreach ($snippet in $snippets) {
            $errors = $null
            $snippetAst = [System.Management.Automation.Language.Parser]::ParseInput($snippet, [ref]$null, [ref]$errors)
            @($errors).Count | Should -Be 0 -Because "it parses: $snippet"
            foreach ($call in @($snippetAst.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $prefectWin.ExportedFunctions.ContainsKey([string]$node.GetCommandName()) }, $true))) {
                $target = Get-Command -Name $call.GetCommandName() -Module PrefectWin
                $call.GetCommandName() | Should -BeExactly $target.Name -Because "$snippet spells it so"
                $called[$target.Name] = $true
                foreach ($parameterAst in @($call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] })) {
                    @($target.Parameters.Keys) | Should -Contain $parameterAst.ParameterName -Because "$snippet"
                }
            }
        }
        foreach ($name in @('Install-PrefectService', 'Start-PrefectSession', 'Get-PrefectService')) {
            $called.Keys | Should -Contain $name -Because 'the topic shows it'
        }
    }

    It 'each format view is for a type a cmdlet returns, and Format-Table shows its columns from the result model' {
        [xml]$views = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.Format.ps1xml') -Raw
        $producers = @{}
        foreach ($name in $prefectWin.ExportedFunctions.Keys) {
            $command = Get-Command -Name $name -Module PrefectWin
            foreach ($outputType in @($command.OutputType | ForEach-Object -Process { $_.Name })) {
                $producers[$outputType] = @($producers[$outputType]) + @(Get-BackendCommandName -Command $command | ForEach-Object -Process { $_.Command }) | Where-Object { $_ }
            }
        }
        # Every type a cmdlet converts its results to has a default view.
        $viewed = @($views.Configuration.ViewDefinitions.View | ForEach-Object -Process { $_.ViewSelectedBy.TypeName })
        foreach ($name in $prefectWin.ExportedFunctions.Keys) {
            $command = Get-Command -Name $name -Module PrefectWin
            foreach ($conversion in @($command.ScriptBlock.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -eq 'ConvertTo-PrefectObject' }, $true))) {
                $typeName = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($conversion, $false).BoundParameters['TypeName'].ConstantValue
                $viewed | Should -Contain "PrefectWin.$typeName" -Because "$name returns PrefectWin.$typeName"
            }
        }
        foreach ($view in @($views.Configuration.ViewDefinitions.View)) {
            $typeName = $view.ViewSelectedBy.TypeName
            $producers.ContainsKey($typeName) | Should -BeTrue -Because "some cmdlet returns $typeName"
            # A column is a PropertyName, or a ScriptBlock that reads $_.<Property> (its value is not compared).
            $items = @($view.TableControl.TableRowEntries.TableRowEntry.TableColumnItems.TableColumnItem)
            $computed = @($items | ForEach-Object -Process { $null -ne $_.SelectSingleNode('ScriptBlock') })
            $columns = @($items | ForEach-Object -Process {
                    if ($null -ne $_.SelectSingleNode('ScriptBlock')) { [regex]::Match($_.ScriptBlock, '\$_\.([A-Za-z]+)').Groups[1].Value } else { $_.PropertyName }
                })
            $labels = @($view.TableControl.TableHeaders.TableColumnHeader | ForEach-Object -Process { $_.Label })
            $labels.Count | Should -Be $columns.Count
            # The result models of the producing commands: one of them has every column.
            $models = New-Object -TypeName 'System.Collections.Generic.List[object]'
            foreach ($backendName in @($producers[$typeName] | Sort-Object -Unique)) {
                $result = $schema.commands.$backendName.result
                foreach ($candidate in @($result) + @($result.PSObject.Properties['$defs'] | ForEach-Object -Process { $_.Value.PSObject.Properties | ForEach-Object -Process { $_.Value } }) + @($result.PSObject.Properties['items'] | ForEach-Object -Process { $_.Value })) {
                    if ($null -ne $candidate -and $null -ne $candidate.PSObject.Properties['properties']) {
                        $models.Add(@($candidate.properties.PSObject.Properties.Name | ForEach-Object -Process { $_.Substring(0, 1).ToUpperInvariant() + $_.Substring(1) }))
                    }
                }
            }
            $model = @($models | Where-Object { $names = $_; @($columns | Where-Object { $names -notcontains $_ }).Count -eq 0 })[0]
            $model | Should -Not -BeNullOrEmpty -Because "$typeName's columns ($($columns -join ', ')) are properties of a result model of $($producers[$typeName] -join ', ')"
            # An object of that shape, rendered by PowerShell with this view.
            # Short, distinct values ('v0', 'v1', ...), so that no column's width cuts them.
            $sample = [ordered]@{ PSTypeName = $typeName }
            # A GroupBy property heads each group instead of filling a column.
            $grouped = if ($null -ne $view.SelectSingleNode('GroupBy')) { [string]$view.GroupBy.PropertyName } else { $null }
            foreach ($property in $model) {
                $sample[$property] = if ($property -eq $grouped) { 'group0' } else { 'v{0}' -f [array]::IndexOf($columns, $property) }
            }
            $table = [PSCustomObject]$sample | Format-Table | Out-String -Width 400
            if ($grouped) {
                $table | Should -Match '\bgroup0\b' -Because "the $typeName view heads its groups with $grouped"
            }
            foreach ($label in $labels) {
                $table | Should -Match ([regex]::Escape($label)) -Because "the $typeName view shows the column $label"
            }
            for ($index = 0; $index -lt $columns.Count; $index++) {
                if ($computed[$index]) {
                    continue
                }
                $table | Should -Match ('\bv{0}\b' -f $index) -Because "the $typeName view shows $($columns[$index])"
            }
            $table | Should -Not -Match '\bv-1\b' -Because 'a property that is no column stays out of the table'
        }
    }
}
