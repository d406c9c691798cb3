#Requires -Version 7.2
<#
    The DSC resources' shape, without DSC: PowerShell on Linux has no LCM and no DSC schema store,
    so nothing here compiles or applies a configuration (tests/PrefectWin.Tests.ps1 compiles the
    sample under Windows PowerShell 5.1; tests/Dsc.Tests.ps1 runs Get, Test, Set and Export).
    What can be judged here is judged on the real thing: the classes as PowerShell compiled them
    (reflection over the module's own [PrefectService] and [PrefectSetting]) and the parsed class
    and configuration text. PowerShell's parser enforces part of DSC's rules itself (a Key, the
    DscProperty arguments, Get/Test/Set signatures), shown here on seeded classes; the rest are
    Find-DscResourceViolation and Find-DscConfigurationViolation (tests/rules/PowerShellRules.psm1),
    each shown to catch a seeded violation and to pass the clean form.
#>

BeforeDiscovery {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    # The examples that hold a configuration (the others are scripts around one, or remoting).
    $exampleCases = @(
        Get-ChildItem -Path (Join-Path -Path $repositoryRoot -ChildPath 'examples') -Filter '*.ps1' -File |
            Where-Object -FilterScript { [regex]::Replace((Get-Content -LiteralPath $_.FullName -Raw), '(?s)<#.*?#>', '') -match '(?m)^\s*Configuration\s+\w+\s*\{' } |
            ForEach-Object -Process { @{ File = 'examples/' + $_.Name; Path = $_.FullName } }
    )
    # Each a change to the good resource in BeforeAll, and what the rule then says.
    # Each a change to the good resource in BeforeAll, and what the rule then says.
    $resourceCases = @(
        @{ Name = 'no [DscResource()]'; Old = "[DscResource()]`nclass"; New = 'class'; Expected = 'has no \[DscResource\(\)\]' }
        @{ Name = 'a meta-property''s name'; Old = '$Credential'; New = '$DependsOn'; Expected = 'meta-property' }
        @{ Name = 'a password in a [string]'; Old = '[System.Management.Automation.PSCredential] $Credential'; New = '[string] $DatabasePassword'; Expected = 'looks like a secret' }
        @{ Name = 'an API key in a [string]'; Old = '[System.Management.Automation.PSCredential] $Credential'; New = '[string] $ApiKey'; Expected = 'looks like a secret' }
        @{ Name = 'a property DSC sees that is no [DscProperty()]'; Old = '    hidden [string] $Cache'; New = '    [string] $Cache'; Expected = 'is not a \[DscProperty\(\)\]' }
        @{ Name = 'an untyped property'; Old = "[DscProperty()]`n    [string] `$Note"; New = "[DscProperty()]`n    `$Note"; Expected = 'has no type' }
        @{ Name = 'Export() not static'; Old = 'static [PrefectThing[]] Export()'; New = '[PrefectThing[]] Export()'; Expected = 'has no static \[PrefectThing\[\]\] Export\(\)' }
        @{ Name = 'Export() returning one'; Old = 'static [PrefectThing[]] Export()'; New = 'static [PrefectThing] Export()'; Expected = 'has no static \[PrefectThing\[\]\] Export\(\)' }
    )
    # What PowerShell's parser refuses by itself (so no rule repeats it): the change, and the error.
    $parserCases = @(
        @{ Name = 'no Key'; Old = '[DscProperty(Key)]'; New = '[DscProperty()]'; ErrorId = 'DscResourceMissingKeyProperty' }
        @{ Name = 'an unknown DscProperty argument'; Old = '[DscProperty(Key)]'; New = '[DscProperty(Key, Required)]'; ErrorId = 'PropertyNotFoundForAttribute' }
        @{ Name = '[DscResource()] on an enum'; Old = 'enum PrefectEnsure {'; New = "[DscResource()]`nenum PrefectEnsure {"; ErrorId = 'AttributeNotAllowedOnDeclaration' }
        @{ Name = 'Get() returning another type'; Old = '[PrefectThing] Get() {'; New = '[hashtable] Get() {'; ErrorId = 'DscResourceInvalidGetMethod' }
        @{ Name = 'Test() returning [string]'; Old = '[bool] Test()'; New = '[string] Test()'; ErrorId = 'DscResourceMissingTestMethod' }
        @{ Name = 'Set() with a parameter'; Old = '[void] Set() {'; New = '[void] Set([bool] $force) {'; ErrorId = 'DscResourceMissingSetMethod' }
    )
    $configurationCases = @(
        @{ Name = 'a misspelt property'; Line = "Nmae = 'a'"; Expected = 'PrefectThing has no property Nmae' }
        @{ Name = 'a NotConfigurable property'; Line = "Status = 'Running'"; Expected = 'PrefectThing has no property Status' }
        @{ Name = 'something other than Property = value'; Line = "Write-Output 'a'"; Expected = 'is not ''Property = value''' }
    )
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'rules/PowerShellRules.psm1') -Force
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $manifestPath = Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.psd1'
    $prefectWin = Import-Module -Name $manifestPath -Force -PassThru
    $manifestData = Import-PowerShellDataFile -LiteralPath $manifestPath
    # The classes as PowerShell compiled them, from the module's own scope.
    $resourceTypes = & $prefectWin { @{ PrefectService = [PrefectService]; PrefectSetting = [PrefectSetting] } }

    function Get-DscPropertyInfo {
        # The properties of a compiled resource class with their [DscProperty()] attribute.
        param([type] $Type)
        foreach ($property in $Type.GetProperties()) {
            $attribute = @($property.GetCustomAttributes([System.Management.Automation.DscPropertyAttribute], $true))
            if ($attribute.Count -eq 1) {
                [PSCustomObject]@{ Name = $property.Name; Type = $property.PropertyType; Key = $attribute[0].Key; NotConfigurable = $attribute[0].NotConfigurable }
            }
        }
    }

    function Format-Violation {
        param([object[]] $Violation)
        (@($Violation) | ForEach-Object -Process { '{0} [{1}] {2}' -f $_.Location, $_.Rule, $_.Message }) -join "`n"
    }

    # What a configuration may set: the configurable [DscProperty()]s of the real classes.
    $configurable = @{}
    foreach ($name in $resourceTypes.Keys) {
        $configurable[$name] = @(Get-DscPropertyInfo -Type $resourceTypes[$name] | Where-Object { -not $_.NotConfigurable } | ForEach-Object -Process { $_.Name })
    }

    $goodResource = @'
enum PrefectEnsure {
    Present
    Absent
}

[DscResource()]
class PrefectThing {
    [DscProperty(Key)]
    [string] $Name

    [DscProperty()]
    [PrefectEnsure] $Ensure = [PrefectEnsure]::Present

    [DscProperty(Mandatory)]
    [ValidateSet('Server', 'Worker')]
    [string] $Role

    [DscProperty()]
    [System.Management.Automation.PSCredential] $Credential

    [DscProperty()]
    [string] $Note

    [DscProperty(NotConfigurable)]
    [string] $Status

    hidden [string] $Cache

    [PrefectThing] Get() {
        return [PrefectThing]@{ Name = $this.Name }
    }

    [bool] Test() {
        return $true
    }

    [void] Set() {
        $null = $this.Name
    }

    static [PrefectThing[]] Export() {
        return [PrefectThing[]]@()
    }
}
'@
    $goodConfiguration = @'
Configuration Sample {
    Import-DscResource -ModuleName 'PrefectWin'
    Node 'localhost' {
        PrefectThing One {
            Name = 'a'
            {0}
            DependsOn = '[File]x'
        }
    }
}
'@
}

Describe 'The DSC resources of the repository' {
    It 'declares DSC resource classes in the root module only, and exports exactly those' {
        # DSC finds class-based resources in the root module (or a nested module the manifest
        # lists); a class in a dot-sourced file would compile and never be found.
        $files = Get-ChildItem -Path $repositoryRoot -Recurse -File -Include '*.ps1', '*.psm1' |
            Where-Object { $_.FullName.Substring($repositoryRoot.Length + 1).Replace('\', '/') -notmatch '^(\.venv|\.git|out)/' }
        $declaring = foreach ($file in $files) {
            $source = Read-RuleSource -Path $file.FullName
            $classes = @($source.Ast.FindAll({
                        param($node)
                        $node -is [System.Management.Automation.Language.TypeDefinitionAst] -and @($node.Attributes | Where-Object { $_.TypeName.Name -eq 'DscResource' }).Count -gt 0
                    }, $true))
            if ($classes.Count -gt 0) {
                [PSCustomObject]@{ File = $file.FullName.Substring($repositoryRoot.Length + 1).Replace('\', '/'); Classes = @($classes | ForEach-Object -Process { $_.Name }) }
            }
        }
        @($declaring | ForEach-Object -Process { $_.File }) | Should -Be @('PrefectWin.psm1')
        @($declaring[0].Classes | Sort-Object) -join ',' | Should -BeExactly ($manifestData.DscResourcesToExport -join ',')
        $manifestData.DscResourcesToExport -join ',' | Should -BeExactly 'PrefectService,PrefectSetting'
    }

    It 'PrefectWin.psm1 keeps the DSC resource rules' {
        $source = Read-RuleSource -Path (Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.psm1') -Label 'PrefectWin.psm1'
        Format-Violation -Violation @(Find-DscResourceViolation -Source $source) | Should -BeNullOrEmpty
    }

    It 'compiled <Resource> is a [DscResource()] keyed by <Keys>, with the methods DSC calls' -ForEach @(
        @{ Resource = 'PrefectService'; Keys = 'Name' }
        @{ Resource = 'PrefectSetting'; Keys = 'Name,Scope' }
    ) {
        $type = $resourceTypes[$Resource]
        @($type.GetCustomAttributes([System.Management.Automation.DscResourceAttribute], $false)).Count | Should -Be 1
        (@(Get-DscPropertyInfo -Type $type | Where-Object { $_.Key } | ForEach-Object -Process { $_.Name }) -join ',') | Should -BeExactly $Keys
        $none = [type[]]@()
        $type.GetMethod('Get', $none).ReturnType | Should -Be $type
        $type.GetMethod('Test', $none).ReturnType | Should -Be ([bool])
        $type.GetMethod('Set', $none).ReturnType | Should -Be ([void])
        $export = $type.GetMethod('Export', [System.Reflection.BindingFlags]'Public, Static', $null, $none, $null)
        $export | Should -Not -BeNullOrEmpty
        $export.ReturnType | Should -Be $type.MakeArrayType()
    }

    It 'compiled resources have the properties of the issue, and one way each for a database secret' {
        $service = @{}
        foreach ($property in @(Get-DscPropertyInfo -Type $resourceTypes['PrefectService'])) {
            $service[$property.Name] = $property
        }
        foreach ($wanted in @('Ensure', 'Role', 'Port', 'BindAddress', 'PrefectHome', 'Pool', 'WorkerType', 'ApiUrl', 'StartupType', 'ServiceDependency', 'DatabaseUrl')) {
            $service.Keys | Should -Contain $wanted
        }
        $service['DatabaseCredential'].Type | Should -Be ([System.Management.Automation.PSCredential])
        $service['DatabaseUrlVariable'].Type | Should -Be ([string])
        $service['AuthCredential'].Type | Should -Be ([System.Management.Automation.PSCredential])
        $service['AuthStringVariable'].Type | Should -Be ([string])
        $service['AllowAnonymous'].Type | Should -Be ([bool])
        # 0 is a value of these two (no time rotation, no age limit), so unset must be $null.
        $service['LogRotateSeconds'].Type | Should -Be ([Nullable[int]])
        $service['LogRetentionDays'].Type | Should -Be ([Nullable[int]])
        $setting = @(Get-DscPropertyInfo -Type $resourceTypes['PrefectSetting'] | ForEach-Object -Process { $_.Name })
        foreach ($wanted in @('Name', 'Scope', 'Value', 'Ensure')) {
            $setting | Should -Contain $wanted
        }
    }

    It '<Resource> has the properties of the backend''s instance model (dsc/<Manifest>), and its keys are required there' -ForEach @(
        @{ Resource = 'PrefectService'; Manifest = 'PrefectWin.Service.dsc.resource.json' }
        @{ Resource = 'PrefectSetting'; Manifest = 'PrefectWin.Setting.dsc.resource.json' }
    ) {
        # The manifests embed the backend's model (tests/dsc/test_resources.py holds them equal), so the
        # class and the backend cannot drift apart: names equal but for the first letter's case.
        $manifest = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath "dsc/$Manifest") -Raw | ConvertFrom-Json
        $schema = $manifest.schema.embedded
        $fromModel = @($schema.properties.PSObject.Properties.Name | Where-Object { -not $_.StartsWith('_') } | ForEach-Object -Process { $_.Substring(0, 1).ToUpperInvariant() + $_.Substring(1) } | Sort-Object)
        $properties = @(Get-DscPropertyInfo -Type $resourceTypes[$Resource])
        (@($properties | ForEach-Object -Process { $_.Name } | Sort-Object) -join ',') | Should -BeExactly ($fromModel -join ',')
        foreach ($key in @($properties | Where-Object { $_.Key })) {
            $wire = $key.Name.Substring(0, 1).ToLowerInvariant() + $key.Name.Substring(1)
            @($schema.required) | Should -Contain $wire
        }
        foreach ($readOnly in @($properties | Where-Object { $_.NotConfigurable })) {
            $wire = $readOnly.Name.Substring(0, 1).ToLowerInvariant() + $readOnly.Name.Substring(1)
            $schema.properties.$wire.readOnly | Should -BeTrue
        }
    }

    It '<File> sets only real properties of the resources and allows no plain-text password' -ForEach $exampleCases {
        $source = ConvertTo-DscConfigurationSource -Text (Get-Content -LiteralPath $Path -Raw) -Label $File
        $source.Errors.Count | Should -Be 0
        Format-Violation -Violation @(Find-DscConfigurationViolation -Source $source -Resource $configurable) | Should -BeNullOrEmpty
        @($source.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $configurable.ContainsKey([string]$node.GetCommandName()) }, $true)).Count | Should -BeGreaterThan 0 -Because 'the sample uses the resources'
    }

    It 'the fleet configuration is one PrefectService block for both roles, with credentials only as PSCredentials or machine variable names' {
        # tests/Fleet.Tests.ps1 runs it over its ConfigurationData; this is its shape.
        $text = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'examples/Fleet.ps1') -Raw
        $text | Should -Match ([regex]::Escape("Import-DscResource -ModuleName 'PrefectWin'"))
        $text | Should -Match ([regex]::Escape('PrefectService $service.Id {'))
        $block = $text.Substring($text.IndexOf('PrefectService $service.Id {'))
        $block = $block.Substring(0, $block.IndexOf('}'))
        $block | Should -Match ([regex]::Escape('DependsOn = $service.DependsOn'))
        $block | Should -Match ([regex]::Escape('DatabaseCredential = $service.DatabaseCredential'))
        $block | Should -Match ([regex]::Escape('DatabaseUrlVariable = $service.DatabaseUrlVariable'))
        $block | Should -Match ([regex]::Escape('AuthCredential = $service.AuthCredential'))
        $block | Should -Match ([regex]::Escape('AuthStringVariable = $service.AuthStringVariable'))
        $text | Should -Match 'PsDscAllowPlainTextPassword' -Because 'a comment says why it is not used'
        @([regex]::Matches($text, '(?m)^\s*PrefectService ')).Count | Should -Be 1 -Because 'one block serves both roles and both ways of giving a secret'
    }

    It 'the single-node sample compiles the fleet configuration with one Role Both node, whose credential the node''s certificate encrypts' {
        $text = Get-Content -LiteralPath (Join-Path -Path $repositoryRoot -ChildPath 'examples/ServerAndWorker.ps1') -Raw
        $text | Should -Match ([regex]::Escape("Role = 'Both'"))
        $text | Should -Match ([regex]::Escape("-ChildPath 'Fleet.ps1'"))
        $text | Should -Match ([regex]::Escape("`$node['CertificateFile'] = `$CertificateFile"))
        $text | Should -Match ([regex]::Escape("`$node['Thumbprint'] = `$Thumbprint"))
        $text | Should -Not -Match '(?m)^\s*Prefect(Service|Setting) \w+ \{' -Because 'its blocks are the fleet configuration''s'
    }
}

Describe 'Each DSC rule catches a seeded violation and passes the clean form' {
    It 'resource: the good resource passes, stacked attributes included' {
        $source = Read-RuleSource -Text $goodResource -Label 'PrefectWin.psm1'
        $source.Errors.Count | Should -Be 0
        Format-Violation -Violation @(Find-DscResourceViolation -Source $source) | Should -BeNullOrEmpty
        Format-Violation -Violation @(Find-DscResourceViolation -Source (Read-RuleSource -Text 'class Plain { [string] $Name }')) | Should -BeNullOrEmpty -Because 'a file without DSC is none of this rule''s business'
    }

    It 'resource: <Name>' -ForEach $resourceCases {
        $goodResource.Contains($Old) | Should -BeTrue -Because 'the seed changes the good resource'
        $source = Read-RuleSource -Text ($goodResource.Replace($Old, $New)) -Label 'PrefectWin.psm1'
        $source.Errors.Count | Should -Be 0 -Because 'PowerShell parses the seeded class, so only the rule can catch it'
        Format-Violation -Violation @(Find-DscResourceViolation -Source $source) | Should -Match $Expected
    }

    It 'parser: <Name>' -ForEach $parserCases {
        $goodResource.Contains($Old) | Should -BeTrue -Because 'the seed changes the good resource'
        $errors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseInput($goodResource.Replace($Old, $New), [ref]$null, [ref]$errors)
        @($errors | ForEach-Object -Process { $_.ErrorId }) | Should -Contain $ErrorId -Because 'PowerShell itself refuses it (tests/PrefectWin.Tests.ps1 parses every source)'
    }

    It 'configuration: the good block passes' {
        $source = ConvertTo-DscConfigurationSource -Text $goodConfiguration.Replace('{0}', "Note = 'b'")
        $source.Errors.Count | Should -Be 0
        Format-Violation -Violation @(Find-DscConfigurationViolation -Source $source -Resource @{ PrefectThing = @('Name', 'Note') }) | Should -BeNullOrEmpty
    }

    It 'configuration: <Name>' -ForEach $configurationCases {
        $source = ConvertTo-DscConfigurationSource -Text $goodConfiguration.Replace('{0}', $Line)
        $source.Errors.Count | Should -Be 0
        Format-Violation -Violation @(Find-DscConfigurationViolation -Source $source -Resource @{ PrefectThing = @('Name', 'Note') }) | Should -Match $Expected
    }

    It 'configuration: plain-text passwords allowed outside a comment' {
        $allowing = "`$data = @{ AllNodes = @(@{ NodeName = 'localhost'; PsDscAllowPlainTextPassword = `$true }) }"
        $source = ConvertTo-DscConfigurationSource -Text $allowing
        Format-Violation -Violation @(Find-DscConfigurationViolation -Source $source -Resource @{}) | Should -Match 'never allow plain-text passwords'
        $commented = ConvertTo-DscConfigurationSource -Text "# never PsDscAllowPlainTextPassword`n`$data = @{ AllNodes = @(@{ NodeName = 'localhost' }) }"
        Format-Violation -Violation @(Find-DscConfigurationViolation -Source $commented -Resource @{}) | Should -BeNullOrEmpty
    }
}
