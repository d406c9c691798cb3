#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    Pester 5 tests of the PrefectWin module ('./build.ps1 Test' runs them).

    - Contract fixtures (tests/contract/<Cmdlet>/*.json, also replayed by tests/bridge/test_contract.py
      against the real backend): every fixture of every cmdlet is picked up. The one seam is
      'Mock Invoke-PrefectBackend -ModuleName PrefectWin'. The mock serializes what the cmdlet
      passed with the module's own ConvertTo-PrefectRequestJson and compares it with the
      fixture's request, then hands the fixture's response to the module's own
      ConvertFrom-PrefectResponse, so objects and errors come out of the same code as real ones.
    - Unit tests of the private helpers.
    - The bridge against the real backend: run when a backend interpreter is found, and always
      in CI (CI=true), where a missing backend is a failure. With and without a session, and
      against tests/fakes/serve_fake.py, a session backend that crashes, hangs or answers out
      of turn on request (started through a .cmd on Windows, an sh script elsewhere).
    - The DSC resources (their methods, with Invoke-PrefectBackend mocked) and, under Windows
      PowerShell 5.1, the sample configuration compiled to a MOF.

    The module's shape without mocks (manifest, Get-Command against the schema, help, views) is
    tests/Module.Tests.ps1's; the house, 5.1 and DSC rules are tests/HouseStyle.Tests.ps1's,
    tests/Compat51.Tests.ps1's and tests/DscShape.Tests.ps1's.
#>

BeforeDiscovery {
    $contractRoot = Join-Path -Path $PSScriptRoot -ChildPath 'contract'
    $fixtureCases = @(
        foreach ($cmdletFolder in @(Get-ChildItem -Path $contractRoot -Directory | Sort-Object -Property Name)) {
            foreach ($file in @(Get-ChildItem -Path $cmdletFolder.FullName -Filter '*.json' -File | Sort-Object -Property Name)) {
                @{ Name = ('{0}/{1}' -f $cmdletFolder.Name, $file.BaseName); Path = $file.FullName }
            }
        }
    )
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    # Not examples/: PowerShell's parser resolves Import-DscResource -ModuleName PrefectWin at
    # parse time, so a configuration parses only where the module is installed. The 'sample DSC
    # configuration' test below compiles it with the module on PSModulePath instead.
    $skippedFolders = '^[\\/](\.venv|\.git|out|examples)[\\/]'
    $sourceCases = @(
        Get-ChildItem -Path $repositoryRoot -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            Where-Object { $_.FullName.Substring($repositoryRoot.Length) -notmatch $skippedFolders } |
            ForEach-Object -Process { @{ File = $_.FullName.Substring($repositoryRoot.Length + 1); Path = $_.FullName } }
    )
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    Import-Module -Name (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'PrefectWin.psd1') -Force
    $backendFound = $true
    try {
        $null = & (Get-Module -Name 'PrefectWin') { Resolve-PrefectPython -Force }
    } catch {
        $backendFound = $false
    }
    $skipRealBackend = -not ($backendFound -or $env:CI -eq 'true')
}

BeforeAll {
    $moduleRoot = Split-Path -Path $PSScriptRoot -Parent
    $prefectWin = Import-Module -Name (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru

    function ConvertTo-TestHashtable {
        # A fixture's invocation (PSCustomObject from ConvertFrom-Json) as a splattable hashtable.
        param([AllowNull()] [object] $InputObject)
        $table = @{}
        if ($null -ne $InputObject) {
            foreach ($property in $InputObject.PSObject.Properties) {
                $value = $property.Value
                if ($value -is [System.Management.Automation.PSCustomObject]) {
                    # A [hashtable] parameter (-Environment, -SecretEnvironment) binds a hashtable only.
                    $value = ConvertTo-TestHashtable -InputObject $value
                }
                $table[$property.Name] = $value
            }
        }
        $table
    }

    function ConvertTo-SortedValue {
        # Dictionaries and objects with sorted keys, lists kept as lists: a canonical shape.
        param([AllowNull()] [object] $Value)
        if ($null -eq $Value) {
            return $null
        }
        if ($Value -is [System.Collections.IDictionary]) {
            $sorted = [ordered]@{}
            foreach ($key in @($Value.Keys | Sort-Object)) {
                $sorted[[string]$key] = ConvertTo-SortedValue -Value $Value[$key]
            }
            return $sorted
        }
        if ($Value -is [System.Management.Automation.PSCustomObject]) {
            $sorted = [ordered]@{}
            foreach ($name in @($Value.PSObject.Properties | ForEach-Object -Process { $_.Name } | Sort-Object)) {
                $sorted[$name] = ConvertTo-SortedValue -Value $Value.PSObject.Properties[$name].Value
            }
            return $sorted
        }
        if ($Value -is [string]) {
            return $Value
        }
        if ($Value -is [System.Collections.IEnumerable]) {
            $items = New-Object -TypeName 'System.Collections.Generic.List[object]'
            foreach ($item in $Value) {
                $items.Add((ConvertTo-SortedValue -Value $item))
            }
            return , $items.ToArray()
        }
        $Value
    }

    function ConvertTo-CanonicalJson {
        param([AllowNull()] [object] $InputObject)
        ConvertTo-Json -InputObject (ConvertTo-SortedValue -Value $InputObject) -Depth 30 -Compress
    }

    function ConvertTo-TestPascalCase {
        param([string] $Name)
        $Name.Substring(0, 1).ToUpperInvariant() + $Name.Substring(1)
    }

    function Get-FixtureExchange {
        # The backend calls a fixture records: its 'calls', or the fixture itself.
        param([object] $Fixture)
        if ($null -ne $Fixture.PSObject.Properties['calls']) {
            $Fixture.calls
        } else {
            $Fixture
        }
    }

    function Get-JsonPointerValue {
        # RFC 6901 lookup in ConvertFrom-Json output; a list comes back as one object.
        param([object] $Document, [string] $Pointer)
        $current = $Document
        foreach ($part in @($Pointer.Split('/') | Select-Object -Skip 1)) {
            $part = $part.Replace('~1', '/').Replace('~0', '~')
            if ($current -is [System.Array]) {
                $current = $current[[int]$part]
            } else {
                $current = $current.PSObject.Properties[$part].Value
            }
        }
        , $current
    }

    function Clear-BackendCache {
        & $prefectWin { $script:PrefectWinBackendPython = $null }
    }
}

Describe 'Module' {
    It 'imports with exactly the Public/ functions exported' {
        $public = @(Get-ChildItem -Path (Join-Path -Path $moduleRoot -ChildPath 'Public') -Filter '*.ps1' | ForEach-Object -Process { $_.BaseName } | Sort-Object)
        $exported = @($prefectWin.ExportedFunctions.Keys | Sort-Object)
        ($exported -join ',') | Should -BeExactly ($public -join ',')
        $prefectWin.ExportedAliases.Count | Should -Be 0
        $prefectWin.ExportedVariables.Count | Should -Be 0
    }

    It 'has a valid manifest for Desktop and Core' {
        $manifest = Test-ModuleManifest -Path (Join-Path -Path $moduleRoot -ChildPath 'PrefectWin.psd1')
        $manifest.Version | Should -Be ([version]'0.1.0')
        @($manifest.CompatiblePSEditions) -join ',' | Should -BeExactly 'Desktop,Core'
    }

    It 'exports the DSC resources of the root module' {
        (@($prefectWin.ExportedDscResources) | Sort-Object) -join ',' | Should -BeExactly 'PrefectService,PrefectSetting'
    }

    It 'loads the default table view of PrefectWin.CheckResult' {
        $view = Get-FormatData -TypeName 'PrefectWin.CheckResult'
        $view | Should -Not -BeNullOrEmpty
    }

    It 'gives every exported cmdlet comment-based help that PowerShell itself reads' {
        # PowerShell's own help parser (not Get-Help, which may offer Update-Help on a new box).
        # A function's ScriptBlock.Ast is its FunctionDefinitionAst, which holds the help.
        foreach ($name in $prefectWin.ExportedFunctions.Keys) {
            $command = Get-Command -Name $name
            $definition = $command.ScriptBlock.Ast
            $definition | Should -BeOfType ([System.Management.Automation.Language.FunctionDefinitionAst])
            $help = $definition.GetHelpContent()
            $help | Should -Not -BeNullOrEmpty -Because "$name has comment-based help"
            $help.Synopsis | Should -Not -BeNullOrEmpty -Because $name
            $help.Description | Should -Not -BeNullOrEmpty -Because $name
            $help.Examples.Count | Should -BeGreaterOrEqual 2 -Because $name
            foreach ($parameter in $command.Parameters.Keys) {
                if ([System.Management.Automation.Cmdlet]::CommonParameters -contains $parameter -or [System.Management.Automation.Cmdlet]::OptionalCommonParameters -contains $parameter) {
                    continue
                }
                @($help.Parameters.Keys) -contains $parameter | Should -BeTrue -Because "$name documents -$parameter"
                $help.Parameters[$parameter.ToUpperInvariant()] | Should -Not -BeNullOrEmpty -Because "$name says what -$parameter is"
            }
            foreach ($documented in @($help.Parameters.Keys)) {
                $command.Parameters.ContainsKey($documented) | Should -BeTrue -Because "$name's help documents -$documented, which it does not have"
            }
            foreach ($outputType in @($command.OutputType | ForEach-Object -Process { $_.Name })) {
                ($help.Outputs -join ' ') | Should -BeLike "*$outputType*" -Because "$name's .OUTPUTS names $outputType"
            }
        }
    }
}

Describe 'Sources' {
    It 'parses <File> with this PowerShell''s own parser' -ForEach $sourceCases {
        # The real parser: under PowerShell 7 in CI, and under Windows PowerShell 5.1 on Windows
        # (7-only syntax that 7 accepts is tests/Compat51.Tests.ps1's to catch).
        $tokens = $null
        $errors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
        (@($errors) | ForEach-Object -Process { '{0}: {1}' -f $_.Extent.StartLineNumber, $_.Message }) -join '; ' | Should -BeNullOrEmpty
    }
}

Describe 'Contract fixture' {
    BeforeEach {
        # Some cmdlets set variables in the session (Set-PrefectSetting -Scope Process); undo that.
        $savedEnvironment = [System.Environment]::GetEnvironmentVariables()
    }

    AfterEach {
        $current = [System.Environment]::GetEnvironmentVariables()
        foreach ($name in @($current.Keys)) {
            if (-not $savedEnvironment.Contains($name)) {
                [System.Environment]::SetEnvironmentVariable([string]$name, $null)
            }
        }
        foreach ($name in @($savedEnvironment.Keys)) {
            if ($current[$name] -ne $savedEnvironment[$name]) {
                [System.Environment]::SetEnvironmentVariable([string]$name, [string]$savedEnvironment[$name])
            }
        }
    }

    It '<Name>' -ForEach $fixtureCases {
        $fixture = Get-Content -LiteralPath $Path -Raw -Encoding UTF8 | ConvertFrom-Json
        $invocation = ConvertTo-TestHashtable -InputObject $fixture.invocation
        $exchanges = @(Get-FixtureExchange -Fixture $fixture)
        $state = @{
            Exchanges = $exchanges
            Calls = 0
            Requests = New-Object -TypeName 'System.Collections.Generic.List[string]'
        }

        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith {
            $bound = $PesterBoundParameters
            if ($state.Calls -ge $state.Exchanges.Count) {
                throw "The cmdlet called the backend more often than the fixture records ($($state.Exchanges.Count))."
            }
            $exchange = $state.Exchanges[$state.Calls]
            $state.Calls++
            $whatIf = $bound.ContainsKey('WhatIf') -and [bool]$bound['WhatIf']
            $parameters = @{}
            if ($bound.ContainsKey('Parameters')) {
                $parameters = $bound['Parameters']
            }
            # What the real bridge would write to stdin, serialized by the module's own code.
            $apply = $null
            if ($bound.ContainsKey('Apply')) {
                $apply = $bound['Apply']
            }
            $json = & $prefectWin {
                param($command, $values, $flag, $applyField)
                ConvertTo-PrefectRequestJson -Command $command -Parameters $values -WhatIf:$flag -Apply $applyField
            } $bound['Command'] $parameters $whatIf $apply
            $state.Requests.Add((ConvertTo-CanonicalJson -InputObject (ConvertFrom-Json -InputObject $json)))
            # The recorded response, through the module's own response handling.
            $stdout = ConvertTo-Json -InputObject $exchange.response -Depth 30 -Compress
            & $prefectWin {
                param($cmdlet, $command, $text)
                ConvertFrom-PrefectResponse -Cmdlet $cmdlet -Command $command -Response (ConvertFrom-Json -InputObject $text)
            } $bound['Cmdlet'] $bound['Command'] $stdout
        }

        if ($null -ne $fixture.PSObject.Properties['bindingError'] -and $fixture.bindingError) {
            { & $fixture.cmdlet @invocation } | Should -Throw -ErrorId ('{0}*' -f $fixture.bindingError)
            Should -Invoke -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -Times 0 -Exactly
            return
        }

        $cmdletErrors = $null
        $output = @(& $fixture.cmdlet @invocation -ErrorAction SilentlyContinue -ErrorVariable cmdletErrors)

        $state.Calls | Should -Be $exchanges.Count -Because 'the cmdlet calls the backend once per recorded exchange'
        for ($index = 0; $index -lt $exchanges.Count; $index++) {
            $state.Requests[$index] | Should -BeExactly (ConvertTo-CanonicalJson -InputObject $exchanges[$index].request) -Because "request $index is the recorded one"
        }

        $last = $exchanges[-1].response
        if ($last.ok) {
            @($cmdletErrors).Count | Should -Be 0
            # What the cmdlet outputs: the result, or the part of it the fixture's 'output' names.
            $outputPointer = '/result'
            if ($null -ne $fixture.PSObject.Properties['output']) {
                $outputPointer = $fixture.output
            }
            $selected = Get-JsonPointerValue -Document $last -Pointer $outputPointer
            $expected = @()
            if ($null -ne $selected) {
                $expected = @($selected)
            }
            $typeName = @((Get-Command -Name $fixture.cmdlet).OutputType | ForEach-Object -Process { $_.Name })[0]
            $output.Count | Should -Be $expected.Count
            for ($index = 0; $index -lt $expected.Count; $index++) {
                $actual = $output[$index]
                $wanted = $expected[$index]
                if ($wanted -isnot [System.Management.Automation.PSCustomObject]) {
                    (ConvertTo-CanonicalJson -InputObject $actual) | Should -BeExactly (ConvertTo-CanonicalJson -InputObject $wanted)
                    continue
                }
                $actual.PSObject.TypeNames[0] | Should -BeExactly $typeName
                # 'withheld': response properties the cmdlet consumes itself and never outputs.
                $withheld = @()
                if ($null -ne $fixture.PSObject.Properties['withheld']) {
                    $withheld = @($fixture.withheld)
                }
                $shown = @($wanted.PSObject.Properties | Where-Object -FilterScript { $withheld -notcontains $_.Name })
                $wantedNames = @($shown | ForEach-Object -Process { ConvertTo-TestPascalCase -Name $_.Name })
                $actualNames = @($actual.PSObject.Properties | ForEach-Object -Process { $_.Name })
                ($actualNames -join ',') | Should -BeExactly ($wantedNames -join ',')
                foreach ($property in $shown) {
                    $name = ConvertTo-TestPascalCase -Name $property.Name
                    $value = $actual.PSObject.Properties[$name].Value
                    (ConvertTo-CanonicalJson -InputObject $value) | Should -BeExactly (ConvertTo-CanonicalJson -InputObject $property.Value) -Because "property $name of object $index"
                }
            }
        } else {
            $output.Count | Should -Be 0
            @($cmdletErrors).Count | Should -Be 1
            $record = @($cmdletErrors)[0]
            $record.FullyQualifiedErrorId | Should -BeLike ('PrefectWin.{0},*' -f $last.error.code)
            [string]$record.CategoryInfo.Category | Should -BeExactly $last.error.category
            $record.TargetObject | Should -Be $last.error.target
            $record.ErrorDetails.Message | Should -BeExactly $last.error.message
            [string]$record.ErrorDetails.RecommendedAction | Should -BeExactly ([string]$last.error.remediation)
        }
    }
}

Describe 'New-PrefectErrorRecord' {
    It 'turns code, category, target and remediation into an ErrorRecord' {
        $record = & $prefectWin {
            New-PrefectErrorRecord -ErrorObject ([PSCustomObject]@{
                    code = 'PortInUse'
                    category = 'ResourceBusy'
                    message = 'Port 4200 is in use by python (PID 42).'
                    target = '4200'
                    remediation = 'Stop process 42 or use -Port 4201.'
                })
        }
        $record | Should -BeOfType ([System.Management.Automation.ErrorRecord])
        $record.FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.PortInUse'
        $record.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceBusy)
        $record.TargetObject | Should -Be '4200'
        $record.Exception.Message | Should -BeExactly 'Port 4200 is in use by python (PID 42).'
        $record.ErrorDetails.RecommendedAction | Should -BeExactly 'Stop process 42 or use -Port 4201.'
    }

    It 'falls back to NotSpecified for a category PowerShell does not have, and takes a hashtable' {
        $record = & $prefectWin {
            New-PrefectErrorRecord -ErrorObject @{ code = 'Strange'; category = 'NoSuchCategory'; message = 'odd' }
        }
        $record.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::NotSpecified)
        $record.FullyQualifiedErrorId | Should -BeExactly 'PrefectWin.Strange'
        $record.TargetObject | Should -BeNullOrEmpty
    }
}

Describe 'ConvertTo-PrefectObject' {
    It 'copies top-level properties in PascalCase, types the object and leaves nested values alone' {
        $source = [PSCustomObject]@{
            pythonPath = 'C:\Python312\python.exe'
            port = 4200
            data = [PSCustomObject]@{ requestedPath = 'C:\x'; items = @(1, 2) }
        }
        $object = & $prefectWin { param($value) ConvertTo-PrefectObject -InputObject $value -TypeName 'Thing' } $source
        $object.PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.Thing'
        (@($object.PSObject.Properties | ForEach-Object -Process { $_.Name }) -join ',') | Should -BeExactly 'PythonPath,Port,Data'
        $object.PythonPath | Should -BeExactly 'C:\Python312\python.exe'
        $object.Port | Should -Be 4200
        @($object.Data.PSObject.Properties | ForEach-Object -Process { $_.Name }) -ccontains 'requestedPath' | Should -BeTrue
        @($object.Data.items).Count | Should -Be 2
    }

    It 'leaves out the properties named in -ExcludeProperty' {
        $source = [PSCustomObject]@{ name = 'PREFECT_API_KEY'; value = '********'; environment = @(@{ name = 'PREFECT_API_KEY'; value = 'plain-secret' }) }
        $object = & $prefectWin { param($value) ConvertTo-PrefectObject -InputObject $value -TypeName 'SettingChange' -ExcludeProperty 'environment' } $source
        (@($object.PSObject.Properties | ForEach-Object -Process { $_.Name }) -join ',') | Should -BeExactly 'Name,Value'
        ($object | Out-String) | Should -Not -Match 'plain-secret'
    }

    It 'converts each object from the pipeline and skips $null' {
        $objects = @(& $prefectWin {
                @([PSCustomObject]@{ check = 'a' }, $null, [PSCustomObject]@{ check = 'b' }) | ConvertTo-PrefectObject -TypeName 'CheckResult'
            })
        $objects.Count | Should -Be 2
        ($objects | ForEach-Object -Process { $_.Check }) -join ',' | Should -BeExactly 'a,b'
    }
}

Describe 'ConvertTo-PrefectParameter' {
    It 'camelCases bound parameters and leaves out the common ones' {
        $bound = @{
            PythonPath = 'C:\Python312\python.exe'
            Port = 4200
            Check = @('port.available')
            Verbose = [System.Management.Automation.SwitchParameter]::Present
            WhatIf = [System.Management.Automation.SwitchParameter]::Present
            ErrorAction = 'Stop'
        }
        $parameters = & $prefectWin { param($value) ConvertTo-PrefectParameter -BoundParameters $value } $bound
        (@($parameters.Keys | Sort-Object) -join ',') | Should -BeExactly 'check,port,pythonPath'
        $parameters['pythonPath'] | Should -BeExactly 'C:\Python312\python.exe'
        @($parameters['check']).Count | Should -Be 1
    }

    It 'returns an empty table when nothing was bound' {
        $parameters = & $prefectWin { ConvertTo-PrefectParameter -BoundParameters @{} }
        $parameters.Count | Should -Be 0
    }
}

Describe 'ConvertTo-PrefectRequestJson' {
    It 'builds the protocol envelope, keeps a one-element list a list and sends $null as null (not given)' {
        $json = & $prefectWin {
            ConvertTo-PrefectRequestJson -Command 'environment.test' -Parameters ([ordered]@{ check = [string[]]@('encoding'); port = 4200; prefectHome = $null }) -WhatIf
        }
        $json | Should -BeExactly '{"protocol":1,"command":"environment.test","params":{"check":["encoding"],"port":4200,"prefectHome":null},"whatIf":true}'
    }

    It 'sends plain values: switches as booleans, no extended properties, nested tables in the order given' {
        $noted = 'plain' | Add-Member -NotePropertyName 'PSPath' -NotePropertyValue 'extra' -PassThru
        $json = & $prefectWin {
            param($text)
            ConvertTo-PrefectRequestJson -Command 'x.y' -Parameters ([ordered]@{ name = $text; force = [switch]$true; env = [ordered]@{ B = '2'; A = '1' } })
        } $noted
        $json | Should -BeExactly '{"protocol":1,"command":"x.y","params":{"name":"plain","force":true,"env":{"B":"2","A":"1"}},"whatIf":false}'
    }

    It 'sends what only PowerShell can convert as text: a credential, a SecureString, an enum, a date' {
        $secret = ConvertTo-SecureString -String 'pa ss' -AsPlainText -Force
        $values = [ordered]@{
            credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @('prefect', $secret)
            token = $secret
            kind = [System.DayOfWeek]::Monday
            since = New-Object -TypeName System.DateTimeOffset -ArgumentList @(2026, 1, 2, 3, 4, 5, [System.TimeSpan]::FromHours(1))
        }
        $json = & $prefectWin { param($parameters) ConvertTo-PrefectRequestJson -Command 'x.y' -Parameters $parameters } $values
        $json | Should -BeExactly '{"protocol":1,"command":"x.y","params":{"credential":{"userName":"prefect","password":"pa ss"},"token":"pa ss","kind":"Monday","since":"2026-01-02T03:04:05.0000000+01:00"},"whatIf":false}'
    }
}

Describe 'ConvertTo-PrefectRequestJson in a session' {
    It 'puts the session id first and the location last, as cwd' {
        $json = & $prefectWin {
            ConvertTo-PrefectRequestJson -Command 'module.version' -Parameters @{} -Location 'C:\work' -RequestId 7
        }
        $json | Should -BeExactly '{"id":7,"protocol":1,"command":"module.version","params":{},"whatIf":false,"cwd":"C:\\work"}'
    }

    It 'leaves out an empty location' {
        $json = & $prefectWin { ConvertTo-PrefectRequestJson -Command 'module.version' -Location '' }
        $json | Should -BeExactly '{"protocol":1,"command":"module.version","params":{},"whatIf":false}'
    }

    It 'sends -Apply as the top-level apply field and the environment as it is, names differing in case kept apart' {
        $variables = New-Object -TypeName System.Collections.Hashtable -ArgumentList ([System.StringComparer]::Ordinal)
        $variables['http_proxy'] = 'a'
        $variables['HTTP_PROXY'] = 'b'
        $json = & $prefectWin {
            param($values)
            ConvertTo-PrefectRequestJson -Command 'service.install' -Apply ([ordered]@{ planId = 'p1'; skip = @(2) }) -Location 'C:\work' -RequestId 3 -Environment $values
        } $variables
        $json | Should -BeLike '{"id":3,"protocol":1,"command":"service.install","params":{},"whatIf":false,"apply":{"planId":"p1","skip":`[2`]},"cwd":"C:\\work","environment":{*}}'
        $json | Should -Match '"http_proxy":"a"'
        $json | Should -Match '"HTTP_PROXY":"b"'
    }

}

# The classes are shims over dsc.get/test/set/export: their rules (validation, passwords in
# URLs, machine variables) are the backend's and are tested in tests/dsc/test_resources.py and, for
# real under pwsh, in Dsc.Tests.ps1. Here: what each class method sends and how it maps the answer.
Describe 'DSC resource classes' {
    BeforeAll {
        function New-TestErrorRecord {
            # A mock's body runs in this file's scope, where the module's private functions are
            # not visible: build the record with the module's own New-PrefectErrorRecord.
            param([hashtable] $ErrorObject)
            & $prefectWin { param($values) New-PrefectErrorRecord -ErrorObject $values } $ErrorObject
        }

        function Invoke-TestResource {
            # Runs a script block against a new instance of a class inside the module, where the class is.
            param([string] $Type, [hashtable] $Property, [scriptblock] $Action)
            & $prefectWin {
                param($typeName, $values, $body)
                $resource = New-Object -TypeName $typeName
                foreach ($key in $values.Keys) {
                    $resource.$key = $values[$key]
                }
                & $body $resource
            } $Type $Property $Action
        }
    }

    BeforeEach {
        $requests = New-Object -TypeName 'System.Collections.Generic.List[object]'
        $answer = [PSCustomObject]@{ inDesiredState = $true; actions = @(); properties = [PSCustomObject]@{ name = 'PrefectServer'; ensure = 'Present'; port = 4200; status = 'Running' } }
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith {
            $requests.Add([PSCustomObject]@{ Command = $PesterBoundParameters['Command']; Parameters = $PesterBoundParameters['Parameters'] })
            $answer
        }
    }

    It '<Method>() of <Type> sends dsc.<Method> with the resource and its DscProperty values' -ForEach @(
        @{ Type = 'PrefectService'; Method = 'Get' }
        @{ Type = 'PrefectService'; Method = 'Test' }
        @{ Type = 'PrefectService'; Method = 'Set' }
        @{ Type = 'PrefectSetting'; Method = 'Test' }
    ) {
        $property = if ($Type -eq 'PrefectService') { @{ Name = 'PrefectServer'; Role = 'Server'; Port = 4200 } } else { @{ Name = 'PREFECT_API_URL'; Scope = 'Machine'; Value = 'http://prefect01:4200/api' } }
        $action = [scriptblock]::Create('param($r) $null = $r.{0}()' -f $Method)
        Invoke-TestResource -Type $Type -Property $property -Action $action
        $requests.Count | Should -Be 1
        $requests[0].Command | Should -BeExactly ('dsc.' + $Method.ToLowerInvariant())
        $requests[0].Parameters['resource'] | Should -BeExactly $Type
        foreach ($key in $property.Keys) {
            $requests[0].Parameters['properties'][$key] | Should -Be $property[$key]
        }
    }

    It 'Test() returns the answer''s inDesiredState' {
        $answer = [PSCustomObject]@{ inDesiredState = $false; actions = @([PSCustomObject]@{ description = 'Start service PrefectServer' }) }
        Invoke-TestResource -Type 'PrefectService' -Property @{ Name = 'PrefectServer'; Role = 'Server' } -Action { param($r) $r.Test() } | Should -BeFalse
        $answer = [PSCustomObject]@{ inDesiredState = $true; actions = @() }
        Invoke-TestResource -Type 'PrefectService' -Property @{ Name = 'PrefectServer'; Role = 'Server' } -Action { param($r) $r.Test() } | Should -BeTrue
    }

    It 'Get() maps the answer''s properties onto the class, whatever their case' {
        $found = Invoke-TestResource -Type 'PrefectService' -Property @{ Name = 'PrefectServer' } -Action { param($r) $r.Get() }
        $found.GetType().Name | Should -BeExactly 'PrefectService'
        $found.Ensure | Should -Be 'Present'
        $found.Port | Should -Be 4200
        $found.Status | Should -BeExactly 'Running'
    }

    It 'Export() returns one instance per answer' {
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith {
            [PSCustomObject]@{ properties = [PSCustomObject]@{ name = 'PrefectServer'; role = 'Server' } }
            [PSCustomObject]@{ properties = [PSCustomObject]@{ name = 'PrefectWorker'; role = 'Worker'; pool = 'etl' } }
        }
        $all = @(& $prefectWin { [PrefectService]::Export() })
        ($all | ForEach-Object -Process { $_.Name }) -join ',' | Should -BeExactly 'PrefectServer,PrefectWorker'
        $all[1].Pool | Should -BeExactly 'etl'
    }

    It 'a backend error ends the method with that error' {
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -MockWith {
            $Cmdlet.WriteError((New-TestErrorRecord -ErrorObject @{ code = 'InvalidArgument'; category = 'InvalidArgument'; message = 'properties.databaseUrl holds a password.' }))
        }
        { Invoke-TestResource -Type 'PrefectService' -Property @{ Name = 'PrefectServer'; Role = 'Server' } -Action { param($r) $r.Test() } } | Should -Throw -ExpectedMessage '*holds a password*'
    }
}

Describe 'ConvertFrom-PrefectResponse' {
    BeforeAll {
        function Invoke-TestResponse {
            param([string] $Text)
            & $prefectWin {
                param($stdout)
                function Receive-TestResponse {
                    [CmdletBinding()]
                    param([string] $Stdout)
                    ConvertFrom-PrefectResponse -Cmdlet $PSCmdlet -Command 'test.response' -Response (ConvertFrom-Json -InputObject $Stdout) -Backend @{ Tail = @('last words') }
                }
                $responseErrors = $null
                $output = @(Receive-TestResponse -Stdout $stdout -ErrorAction SilentlyContinue -ErrorVariable responseErrors)
                @{ Output = $output; Errors = @($responseErrors) }
            } $Text
        }
    }

    It 'returns each item of a result list' {
        $outcome = Invoke-TestResponse -Text '{"protocol":1,"ok":true,"result":[{"a":1},{"a":2}]}'
        $outcome.Output.Count | Should -Be 2
        $outcome.Errors.Count | Should -Be 0
    }

    It 'writes a PrefectWin.<code> error for ok:false and returns nothing' {
        $outcome = Invoke-TestResponse -Text '{"protocol":1,"ok":false,"error":{"code":"PortInUse","category":"ResourceBusy","message":"busy","target":"4200","remediation":"use 4201"}}'
        $outcome.Output.Count | Should -Be 0
        $outcome.Errors.Count | Should -Be 1
        $outcome.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.PortInUse,*'
        $outcome.Errors[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceBusy)
    }

    It 'throws PrefectWin.BridgeFailed with the stderr tail for <Case>' -ForEach @(
        @{ Case = 'no answer'; Text = 'null' }
        @{ Case = 'a line of text'; Text = '"Traceback (most recent call last):"' }
        @{ Case = 'JSON that is not a response'; Text = '{"hello":1}' }
        @{ Case = 'another protocol'; Text = '{"protocol":2,"ok":true,"result":null}' }
    ) {
        $thrown = { Invoke-TestResponse -Text $Text } | Should -Throw -ErrorId 'PrefectWin.BridgeFailed*' -PassThru
        $thrown.Exception.Message | Should -BeLike '*last words*'
    }
}

Describe 'Invoke-PrefectPlan' {
    BeforeAll {
        function New-FakeCmdlet {
            # Stands in for $PSCmdlet: records each ShouldProcess call and answers from $Answers.
            param([hashtable] $Answers, [System.Collections.Generic.List[string]] $Asked)
            $fake = New-Object -TypeName PSObject
            $shouldProcess = {
                param($target, $action)
                $Asked.Add(('{0}|{1}' -f $target, $action))
                [bool]$Answers[$action]
            }.GetNewClosure()
            $fake | Add-Member -MemberType ScriptMethod -Name 'ShouldProcess' -Value $shouldProcess
            # What Import-PrefectCallerPreference reads of a cmdlet: no common parameters, and
            # this test's preference variables.
            $fake | Add-Member -MemberType NoteProperty -Name 'MyInvocation' -Value ([PSCustomObject]@{ BoundParameters = @{} })
            $fake | Add-Member -MemberType NoteProperty -Name 'SessionState' -Value $ExecutionContext.SessionState
            $fake
        }

        function Invoke-TestPlan {
            param([object] $Cmdlet, [switch] $ApplyEmpty)
            & $prefectWin {
                param($fake, $empty)
                Invoke-PrefectPlan -Cmdlet $fake -Command 'service.install' -Parameters @{ name = 'PrefectServer' } -Target 'PrefectServer' -ApplyEmpty:$empty
            } $Cmdlet $ApplyEmpty
        }
    }

    BeforeEach {
        $planActions = @(
            [PSCustomObject]@{ id = 'a1'; kind = 'service.create'; description = 'Create the service PrefectServer'; target = 'PrefectServer'; dependsOn = @() }
            [PSCustomObject]@{ id = 'a2'; kind = 'firewall.allow'; description = 'Allow inbound TCP 4200'; target = 'rule'; dependsOn = @() }
            [PSCustomObject]@{ id = 'a3'; kind = 'service.start'; description = 'Start the service PrefectServer'; target = 'PrefectServer'; dependsOn = @('a2', 'a1') }
        )
        $applied = New-Object -TypeName 'System.Collections.Generic.List[object]'
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -RemoveParameterType 'Cmdlet' -MockWith {
            if ($PesterBoundParameters.ContainsKey('Apply')) {
                $applied.Add($PesterBoundParameters['Apply'])
            }
            $planned = $PesterBoundParameters.ContainsKey('WhatIf') -and [bool]$PesterBoundParameters['WhatIf']
            [PSCustomObject]@{ changed = -not $planned; actions = @($planActions); planId = 'p1'; fingerprint = 'f1' }
        }
    }

    It 'asks ShouldProcess about every action, then applies the plan shown, by id, with every id confirmed' {
        $asked = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $fake = New-FakeCmdlet -Answers @{ 'Create the service PrefectServer' = $true; 'Allow inbound TCP 4200' = $true; 'Start the service PrefectServer' = $true } -Asked $asked
        $result = Invoke-TestPlan -Cmdlet $fake
        ($asked -join ';') | Should -BeExactly 'PrefectServer|Create the service PrefectServer;PrefectServer|Allow inbound TCP 4200;PrefectServer|Start the service PrefectServer'
        $result.changed | Should -BeTrue
        $applied.Count | Should -Be 1
        $applied[0].planId | Should -BeExactly 'p1'
        ($applied[0].confirm -join ',') | Should -BeExactly 'a1,a2,a3'
        $applied[0].plan.fingerprint | Should -BeExactly 'f1'
        (@($applied[0].plan.actions | ForEach-Object -Process { '{0}:{1}' -f $_.id, (@($_.dependsOn) -join '+') }) -join ',') | Should -BeExactly 'a1:,a2:,a3:a2+a1'
    }

    It 'declining one action skips it and what depends on it, without asking, and applies the rest' {
        $asked = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $fake = New-FakeCmdlet -Answers @{ 'Create the service PrefectServer' = $false; 'Allow inbound TCP 4200' = $true; 'Start the service PrefectServer' = $true } -Asked $asked
        $null = Invoke-TestPlan -Cmdlet $fake
        $asked.Count | Should -Be 2 -Because 'the start depends on the declined create'
        ($applied[0].confirm -join ',') | Should -BeExactly 'a2'
    }

    It 'applies nothing when every action is declined, and returns the plan' {
        $asked = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $fake = New-FakeCmdlet -Answers @{} -Asked $asked
        $result = Invoke-TestPlan -Cmdlet $fake
        $asked.Count | Should -Be 2
        $result.changed | Should -BeFalse
        Should -Invoke -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -Times 1 -Exactly
    }

    It 'asks nothing and applies nothing when the plan is empty, unless -ApplyEmpty' {
        $planActions = @()
        $asked = New-Object -TypeName 'System.Collections.Generic.List[string]'
        $fake = New-FakeCmdlet -Answers @{} -Asked $asked
        $result = Invoke-TestPlan -Cmdlet $fake
        $asked.Count | Should -Be 0
        $result.changed | Should -BeFalse
        $applied.Count | Should -Be 0
        $null = Invoke-TestPlan -Cmdlet $fake -ApplyEmpty
        $applied.Count | Should -Be 1
        @($applied[0].confirm).Count | Should -Be 0
    }

    It 'works with a real cmdlet under -WhatIf: every action is listed, nothing is applied' {
        $result = & $prefectWin {
            function Install-TestThing {
                [CmdletBinding(SupportsShouldProcess = $true)]
                param()
                Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'service.install' -Parameters @{} -Target 'PrefectServer'
            }
            Install-TestThing -WhatIf
        }
        $result.changed | Should -BeFalse
        Should -Invoke -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -Times 1 -Exactly
    }
}

Describe 'Resolve-PrefectPython' {
    BeforeEach {
        $savedPython = $env:PREFECTWIN_PYTHON
        $savedVirtualEnv = $env:VIRTUAL_ENV
        Clear-BackendCache
    }

    AfterEach {
        $env:PREFECTWIN_PYTHON = $savedPython
        $env:VIRTUAL_ENV = $savedVirtualEnv
        Clear-BackendCache
    }

    It 'takes PREFECTWIN_PYTHON first, and caches the answer' {
        $interpreter = Join-Path -Path $TestDrive -ChildPath 'python.exe'
        Set-Content -LiteralPath $interpreter -Value '' -Encoding Ascii
        $env:PREFECTWIN_PYTHON = $interpreter
        $found = & $prefectWin { Resolve-PrefectPython -Force }
        $found.Path | Should -BeExactly $interpreter
        @($found.PrefixArgs).Count | Should -Be 0
        $env:PREFECTWIN_PYTHON = Join-Path -Path $TestDrive -ChildPath 'other.exe'
        (& $prefectWin { Resolve-PrefectPython }).Path | Should -BeExactly $interpreter
    }

    It 'uses the py launcher as py -3 when nothing more specific exists' {
        $env:PREFECTWIN_PYTHON = $null
        Mock -CommandName Test-Path -ModuleName PrefectWin -MockWith { $false }
        Mock -CommandName Get-Command -ModuleName PrefectWin -ParameterFilter { $Name -contains 'py' } -MockWith {
            [PSCustomObject]@{ Path = 'C:\Windows\py.exe' }
        }
        $found = & $prefectWin { Resolve-PrefectPython -Force }
        $found.Path | Should -BeExactly 'C:\Windows\py.exe'
        @($found.PrefixArgs) -join ' ' | Should -BeExactly '-3'
    }

    It 'skips the Store stub and the active venv on PATH' {
        $env:PREFECTWIN_PYTHON = $null
        $env:VIRTUAL_ENV = 'C:\work\venv'
        Mock -CommandName Test-Path -ModuleName PrefectWin -MockWith { $false }
        Mock -CommandName Get-Command -ModuleName PrefectWin -ParameterFilter { $Name -contains 'py' } -MockWith { @() }
        Mock -CommandName Get-Command -ModuleName PrefectWin -ParameterFilter { $Name -contains 'python3' } -MockWith { @() }
        Mock -CommandName Get-Command -ModuleName PrefectWin -ParameterFilter { $Name -contains 'python' } -MockWith {
            [PSCustomObject]@{ Path = 'C:\Users\me\AppData\Local\Microsoft\WindowsApps\python.exe' }
            [PSCustomObject]@{ Path = 'C:\work\venv\Scripts\python.exe' }
            [PSCustomObject]@{ Path = 'C:\Python312\python.exe' }
        }
        $found = & $prefectWin { Resolve-PrefectPython -Force }
        $found.Path | Should -BeExactly 'C:\Python312\python.exe'
    }

    It 'throws PrefectWin.NotInstalled, with the remedy, when there is no interpreter' {
        $env:PREFECTWIN_PYTHON = $null
        Mock -CommandName Test-Path -ModuleName PrefectWin -MockWith { $false }
        Mock -CommandName Get-Command -ModuleName PrefectWin -MockWith { @() }
        $thrown = { & $prefectWin { Resolve-PrefectPython -Force } } | Should -Throw -ErrorId 'PrefectWin.NotInstalled*' -PassThru
        $thrown.ErrorDetails.RecommendedAction | Should -BeLike '*build.ps1 Install*'
    }
}

Describe 'The bridge against the real backend' -Skip:$skipRealBackend {
    BeforeAll {
        Clear-BackendCache

        function New-TestProgram {
            # A program PREFECTWIN_PYTHON can name: a .cmd on Windows, an executable sh script
            # elsewhere (ProcessStartInfo runs either directly).
            param([string] $Name, [string[]] $Windows, [string[]] $Posix)
            if ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT) {
                $path = Join-Path -Path $TestDrive -ChildPath "$Name.cmd"
                Set-Content -LiteralPath $path -Value $Windows -Encoding Ascii
                return $path
            }
            $path = Join-Path -Path $TestDrive -ChildPath "$Name.sh"
            Set-Content -LiteralPath $path -Value (@('#!/bin/sh') + $Posix) -Encoding Ascii
            & chmod +x $path
            $path
        }
    }

    It 'answers module.version over the protocol' {
        $version = & $prefectWin {
            function Get-TestVersion {
                [CmdletBinding()]
                param()
                Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'module.version' -Parameters @{}
            }
            Get-TestVersion
        }
        $version.protocol | Should -Be 1
        $version.version | Should -Not -BeNullOrEmpty
    }

    It 'Invoke-PrefectBackend passes -Apply and the whole current environment through, beside cwd' {
        Mock -CommandName Receive-PrefectBackendAnswer -ModuleName PrefectWin -MockWith {
            [PSCustomObject]@{ Code = $null; Problem = $null; Answer = [PSCustomObject]@{ protocol = 1; ok = $true; result = $Line } }
        }
        $env:PREFECTWIN_TEST_MARKER = 'marked'
        try {
            $sent = & $prefectWin {
                function Invoke-TestApply {
                    [CmdletBinding()]
                    param()
                    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'service.install' -Apply @{ planId = 'p1' }
                }
                Invoke-TestApply
            } | ConvertFrom-Json
        } finally {
            Remove-Item -Path 'env:PREFECTWIN_TEST_MARKER'
            $null = Stop-PrefectSession
        }
        $sent.apply.planId | Should -BeExactly 'p1'
        $sent.cwd | Should -BeExactly (Get-Location).ProviderPath
        $sent.environment.PREFECTWIN_TEST_MARKER | Should -BeExactly 'marked'
        @($sent.environment.PSObject.Properties).Count | Should -Be ([System.Environment]::GetEnvironmentVariables().Count + 1)
    }

    It 'sends a one-element -Check as a list and returns PrefectWin.CheckResult objects' {
        $results = @(Test-PrefectEnvironment -Check 'encoding')
        $results.Count | Should -Be 1
        $results[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.CheckResult'
        $results[0].Check | Should -BeExactly 'encoding'
        $results[0].Status | Should -BeIn @('Pass', 'Warning', 'Fail', 'Skipped')
    }

    It 'relays the backend''s verbose lines' {
        $records = @(Test-PrefectEnvironment -Check 'python.found' -Verbose 4>&1)
        $fromBackend = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -notlike 'PrefectWin backend*' })
        $fromBackend.Count | Should -BeGreaterThan 0
    }

    It 'writes a backend error as a PrefectWin error record' {
        $backendErrors = $null
        $output = @(Test-PrefectEnvironment -PrefectHome '' -ErrorAction SilentlyContinue -ErrorVariable backendErrors)
        $output.Count | Should -Be 0
        @($backendErrors).Count | Should -Be 1
        $backendErrors[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidRequest,*'
        $backendErrors[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $backendErrors[0].TargetObject | Should -BeExactly 'params.prefectHome'
    }

    It 'starts Python where no pydantic.py of the user''s can shadow the backend, with and without a session' {
        # windows.admin needs no probe of the target interpreter: only the backend imports here.
        Set-Content -LiteralPath (Join-Path -Path $TestDrive -ChildPath 'pydantic.py') -Value 'raise SystemExit("shadowed")' -Encoding Ascii
        Push-Location -LiteralPath $TestDrive
        try {
            @(Test-PrefectEnvironment -Check 'windows.admin')[0].Check | Should -BeExactly 'windows.admin'
            Start-PrefectSession
            @(Test-PrefectEnvironment -Check 'windows.admin')[0].Check | Should -BeExactly 'windows.admin'
        } finally {
            $null = Stop-PrefectSession
            Pop-Location
        }
    }

    Context 'through a session' {
        AfterEach {
            $null = Stop-PrefectSession
        }

        It 'serves many commands from one process, with the same objects' {
            $null = Stop-PrefectSession
            $opened = Start-PrefectSession -PassThru
            $opened.Status | Should -BeExactly 'Running'
            $opened.Version | Should -Not -BeNullOrEmpty
            $first = @(Test-PrefectEnvironment -Check 'encoding')
            $second = @(Test-PrefectEnvironment -Check 'python.found')
            $first[0].Check | Should -BeExactly 'encoding'
            $second[0].PSObject.TypeNames[0] | Should -BeExactly 'PrefectWin.CheckResult'
            $now = Get-PrefectSession
            $now.ProcessId | Should -Be $opened.ProcessId
            $now.Requests | Should -Be 3 -Because 'the handshake and two commands'
            $now.Starts | Should -Be $opened.Starts
        }

        It 'relays verbose lines and writes backend errors, and the session survives them' {
            Start-PrefectSession
            $records = @(Test-PrefectEnvironment -Check 'python.found' -Verbose 4>&1)
            @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -notlike 'PrefectWin*' }).Count | Should -BeGreaterThan 0
            $backendErrors = $null
            $output = @(Test-PrefectEnvironment -PrefectHome '' -ErrorAction SilentlyContinue -ErrorVariable backendErrors)
            $output.Count | Should -Be 0
            $backendErrors[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidRequest,*'
            (Get-PrefectSession).Status | Should -BeExactly 'Running'
        }

        It 'answers an oversized request with InvalidRequest and keeps serving' {
            $opened = Start-PrefectSession -PassThru
            $hugeErrors = & $prefectWin {
                param($text)
                function Invoke-TestHuge {
                    [CmdletBinding()]
                    param([string] $Text)
                    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'module.version' -Parameters @{ padding = $Text }
                }
                $collected = $null
                $null = Invoke-TestHuge -Text $text -ErrorAction SilentlyContinue -ErrorVariable collected
                @($collected)
            } ('x' * 1100000)
            @($hugeErrors)[0].FullyQualifiedErrorId | Should -BeLike 'PrefectWin.InvalidRequest,*'
            @(Test-PrefectEnvironment -Check 'encoding').Count | Should -Be 1
            (Get-PrefectSession).ProcessId | Should -Be $opened.ProcessId
        }

        It 'starts a new backend, with a warning, when the last one died between commands' {
            $opened = Start-PrefectSession -PassThru
            Stop-Process -Id $opened.ProcessId -Force
            Wait-Process -Id $opened.ProcessId -Timeout 10 -ErrorAction SilentlyContinue
            $records = @(Test-PrefectEnvironment -Check 'encoding' 3>&1)
            @($records | Where-Object { $_ -is [System.Management.Automation.WarningRecord] -and $_.Message -like '*exited*' }).Count | Should -Be 1
            @($records | Where-Object { $_.PSObject.TypeNames[0] -eq 'PrefectWin.CheckResult' }).Count | Should -Be 1
            $now = Get-PrefectSession
            $now.Starts | Should -Be ($opened.Starts + 1)
            $now.ProcessId | Should -Not -Be $opened.ProcessId
        }

        It 'ends with Stop-PrefectSession: the backend exits and the next command starts a new one' {
            $null = Stop-PrefectSession
            $opened = Start-PrefectSession -PassThru
            $closed = Stop-PrefectSession -PassThru
            $closed.Status | Should -BeExactly 'Closed'
            $closed.Requests | Should -Be 1
            Get-PrefectSession | Should -BeNullOrEmpty
            Get-Process -Id $opened.ProcessId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            @(Test-PrefectEnvironment -Check 'encoding').Count | Should -Be 1
            (Get-PrefectSession).ProcessId | Should -Not -Be $opened.ProcessId
        }
    }

    Context 'with a fake session backend (tests/fakes/serve_fake.py)' {
        BeforeAll {
            Clear-BackendCache
            $real = & $prefectWin { Resolve-PrefectPython -Force }
            $fakeScript = Join-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath 'fakes') -ChildPath 'serve_fake.py'
            # PREFECTWIN_PYTHON names a program; the fake is a script run by the real interpreter.
            $fake = New-TestProgram -Name 'fake-serve' -Windows @(('@"{0}" {1} "{2}" %*' -f $real.Path, (@($real.PrefixArgs) -join ' '), $fakeScript)) -Posix @(('exec "{0}" {1} "{2}" "$@"' -f $real.Path, (@($real.PrefixArgs) -join ' '), $fakeScript))

            function Invoke-TestCommand {
                # One request through the bridge, as a cmdlet of the module makes it; -Loud is
                # its -Verbose (module code does not see this scope's preference variables).
                param([string] $Name, [int] $Seconds = 30, [switch] $Loud)
                & $prefectWin {
                    param($command, $timeout, $loud)
                    function Invoke-TestBackend {
                        [CmdletBinding()]
                        param([string] $Command, [int] $TimeoutSec)
                        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command $Command -Parameters @{} -TimeoutSec $TimeoutSec
                    }
                    Invoke-TestBackend -Command $command -TimeoutSec $timeout -Verbose:$loud
                } $Name $Seconds ([bool]$Loud)
            }
        }

        BeforeEach {
            # The running backend is the real one; the next one is the fake.
            $null = Stop-PrefectSession
            $savedPython = $env:PREFECTWIN_PYTHON
            $env:PREFECTWIN_PYTHON = $fake
            Clear-BackendCache
            $opened = Start-PrefectSession -PassThru
        }

        AfterEach {
            $null = Stop-PrefectSession
            $env:PREFECTWIN_PYTHON = $savedPython
            Clear-BackendCache
        }

        It 'sends the location as cwd and relays the events of the request in order, before its answer' {
            $records = @(Invoke-TestCommand -Name 'module.version' -Loud 4>&1 | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] -or $_.Message -like 'fake serves*' })
            $records.Count | Should -Be 4
            @($records[0..2] | ForEach-Object -Process { $_.Message }) | Should -Be @('fake serves module.version (1/3)', 'fake serves module.version (2/3)', 'fake serves module.version (3/3)')
            $records[3].command | Should -BeExactly 'module.version'
            $records[3].cwd | Should -BeExactly (Get-Location).ProviderPath
        }

        It 'skips an answer to another request' {
            $answer = Invoke-TestCommand -Name 'fake.stale'
            $answer.command | Should -BeExactly 'fake.stale'
            $answer.id | Should -Be (Get-PrefectSession).Requests
        }

        It 'fails the request in flight with PrefectWin.SessionLost, then starts a new backend' {
            $thrown = { Invoke-TestCommand -Name 'fake.crash' } | Should -Throw -ErrorId 'PrefectWin.SessionLost*' -PassThru
            $thrown.Exception.Message | Should -BeLike '*exited with code 3*fake.crash*'
            $thrown.Exception.Message | Should -BeLike '*crashes on purpose*'
            Get-PrefectSession | Should -BeNullOrEmpty -Because 'the lost backend is gone'
            (Invoke-TestCommand -Name 'module.version').command | Should -BeExactly 'module.version'
            (Get-PrefectSession).Starts | Should -Be ($opened.Starts + 1)
        }

        It 'stops a backend that does not answer in time: PrefectWin.Timeout, then a new backend' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            { Invoke-TestCommand -Name 'fake.hang' -Seconds 2 } | Should -Throw -ErrorId 'PrefectWin.Timeout*'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
            Get-PrefectSession | Should -BeNullOrEmpty -Because 'the stopped backend is gone'
            Get-Process -Id $opened.ProcessId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            (Invoke-TestCommand -Name 'module.version').command | Should -BeExactly 'module.version'
        }
    }

    Context 'with an interpreter that is not a PrefectWin backend' {
        BeforeEach {
            $null = Stop-PrefectSession
            $savedPython = $env:PREFECTWIN_PYTHON
            Clear-BackendCache
        }

        AfterEach {
            $env:PREFECTWIN_PYTHON = $savedPython
            Clear-BackendCache
        }

        It 'throws PrefectWin.BridgeFailed and quotes its stderr' {
            $fake = New-TestProgram -Name 'not-a-backend' -Windows @('@echo off', 'echo No module named prefectwin 1>&2', 'exit /b 1') -Posix @('echo "No module named prefectwin" >&2', 'exit 1')
            $env:PREFECTWIN_PYTHON = $fake
            $thrown = { Test-PrefectEnvironment -Check 'encoding' } | Should -Throw -ErrorId 'PrefectWin.BridgeFailed*' -PassThru
            $thrown.Exception.Message | Should -BeLike '*No module named prefectwin*'
        }

        It 'stops a backend that does not answer in time: PrefectWin.Timeout' {
            $fake = New-TestProgram -Name 'slow' -Windows @('@echo off', 'ping -n 30 127.0.0.1 > nul') -Posix @('sleep 30')
            $env:PREFECTWIN_PYTHON = $fake
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $call = {
                & $prefectWin {
                    function Invoke-TestSlow {
                        [CmdletBinding()]
                        param()
                        Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'module.version' -Parameters @{} -TimeoutSec 2
                    }
                    Invoke-TestSlow
                }
            }
            $call | Should -Throw -ErrorId 'PrefectWin.Timeout*'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 20
        }
    }
}

# Needs Windows PowerShell 5.1's PSDesiredStateConfiguration to compile a MOF: skipped elsewhere.
Describe 'The sample DSC configuration' -Tag 'Windows', 'WindowsPowerShell' -Skip:(-not $onWindows -or $PSVersionTable.PSEdition -ne 'Desktop') {
    It 'compiles to a MOF in which the worker depends on the server and no password appears' {
        . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
        $output = Join-Path -Path $TestDrive -ChildPath 'mof'
        $sample = Join-Path -Path (Join-Path -Path $moduleRoot -ChildPath 'examples') -ChildPath 'ServerAndWorker.ps1'
        Invoke-TestWithModuleOnPath -ModuleRoot $moduleRoot -Folder (Join-Path -Path $TestDrive -ChildPath 'Modules') -ScriptBlock {
            $null = & $sample -DatabaseUrlVariable 'PREFECT_DATABASE_URL' -AuthStringVariable 'PREFECT_AUTH' -Pool 'etl' -OutputPath $output
        }
        $mof = Get-Content -LiteralPath (Join-Path -Path $output -ChildPath 'localhost.mof') -Raw
        $mof | Should -Match 'ResourceID = "\[PrefectService\]Worker"'
        $mof | Should -Match 'DependsOn = \{\s*"\[PrefectService\]Server"'
        $mof | Should -Match 'DatabaseUrlVariable = "PREFECT_DATABASE_URL"'
        $mof | Should -Match 'AuthStringVariable = "PREFECT_AUTH"'
        $mof | Should -Match 'ApiUrl = "http://127\.0\.0\.1:4200/api"'
        $mof | Should -Not -Match '(?i)password'
    }
}

Describe 'Restart-PrefectService: the bridge waits as long as the health gates may' {
    BeforeEach {
        $calls = New-Object -TypeName 'System.Collections.Generic.List[object]'
        Mock -CommandName Invoke-PrefectBackend -ModuleName PrefectWin -RemoveParameterType 'Cmdlet' -MockWith {
            $calls.Add([PSCustomObject]@{ TimeoutSec = $PesterBoundParameters['TimeoutSec']; Parameters = $PesterBoundParameters['Parameters']; Apply = $PesterBoundParameters.ContainsKey('Apply') })
            $action = [PSCustomObject]@{ id = 'a1'; kind = 'start-service'; description = "Start service 'PrefectServer'"; target = 'PrefectServer'; dependsOn = @() }
            [PSCustomObject]@{ names = @('PrefectServer'); changed = $true; whatIf = $false; actions = @($action); planId = 'p1'; fingerprint = 'f1'; services = @() }
        }
    }

    It 'without -TimeoutSec waits two of the documented default 120 s gates plus 300 s, for the plan and the apply' {
        $null = Restart-PrefectService -Name 'PrefectServer' -Confirm:$false
        $calls.Count | Should -Be 2
        @($calls | ForEach-Object -Process { $_.Apply }) | Should -Be @($false, $true)
        @($calls | Where-Object -FilterScript { $_.Parameters.ContainsKey('timeoutSec') }).Count | Should -Be 0 -Because 'only bound parameters are sent; the backend default is the same 120'
        @($calls | ForEach-Object -Process { $_.TimeoutSec }) | Should -Be @(540, 540)
        $default = (Get-Command -Name 'Restart-PrefectService').ScriptBlock.Ast.Body.ParamBlock.Parameters |
            Where-Object -FilterScript { $_.Name.VariablePath.UserPath -eq 'TimeoutSec' }
        $default.DefaultValue.SafeGetValue() | Should -Be 120
        (Get-Help -Name 'Restart-PrefectService' -Parameter 'TimeoutSec').Description.Text | Should -BeLike '*default is 120 seconds*'
    }

    It 'follows a -TimeoutSec that is shorter or longer than the default' {
        $null = Restart-PrefectService -Name 'PrefectServer' -TimeoutSec 10 -Confirm:$false
        $null = Restart-PrefectService -Name 'PrefectServer' -TimeoutSec 1800 -Confirm:$false
        @($calls | ForEach-Object -Process { $_.Parameters['timeoutSec'] }) | Should -Be @(10, 10, 1800, 1800)
        @($calls | ForEach-Object -Process { $_.TimeoutSec }) | Should -Be @(320, 320, 3900, 3900)
    }
}
