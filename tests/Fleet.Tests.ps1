#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.3.0' }
<#
    examples/Fleet.ps1 (one server and N workers by DSC ConfigurationData) without DSC where DSC
    is missing. PowerShell parses a Configuration only where DSC's schema store exists, so the
    configuration is read here as a function (its resource blocks as hashtables, which is what
    DSC makes of them) and run with stand-ins for Node and the resource keywords: that gives every
    node's resource instances, with the real data rules of examples/FleetData.ps1 applied first.
    Each instance is then set on the module's real [PrefectService] / [PrefectSetting] class and
    its [DscProperty()] values judged by the backend's own DSC validation
    (tests/fleet_validate.py: the instance model, the MOF secret rules and the Windows service
    spec). Where PSDesiredStateConfiguration is installed, the real MOF compile runs too.
#>

BeforeDiscovery {
    # Windows PowerShell's PSDesiredStateConfiguration 1.1 compiles in 5.1 only; PowerShell 7
    # needs 2.0 or later from the gallery. PowerShell on Linux has neither.
    $dscModule = @(Get-Module -ListAvailable -Name 'PSDesiredStateConfiguration' | Where-Object -FilterScript { $PSVersionTable.PSEdition -eq 'Desktop' -or $_.Version -ge [version]'2.0' })
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    $canCompile = $onWindows -and $dscModule.Count -gt 0
}

BeforeAll {
    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $examples = Join-Path -Path $repositoryRoot -ChildPath 'examples'
    $prefectWin = Import-Module -Name (Join-Path -Path $repositoryRoot -ChildPath 'PrefectWin.psd1') -Force -PassThru
    . (Join-Path -Path $PSScriptRoot -ChildPath 'EndToEnd.Helpers.ps1')
    . (Join-Path -Path $examples -ChildPath 'FleetData.ps1')
    $python = Get-TestBackendPython -Module $prefectWin
    $validator = Join-Path -Path $PSScriptRoot -ChildPath 'fleet_validate.py'
    $sampleData = Join-Path -Path $examples -ChildPath 'Fleet.psd1'

    $authPassword = 'fleet-auth-' + [guid]::NewGuid().ToString('N')
    $databasePassword = 'fleet-db-' + [guid]::NewGuid().ToString('N')
    $auth = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList 'admin', (ConvertTo-SecureString -String $authPassword -AsPlainText -Force)
    $database = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList 'prefect', (ConvertTo-SecureString -String $databasePassword -AsPlainText -Force)

    # The configuration PrefectFleet of examples/Fleet.ps1 as a function: 'Configuration' read as
    # 'function', and each resource block's { Property = value ... } as @{ ... }, the hashtable
    # DSC evaluates it to. Everything else in it is the example's own text.
    $text = Get-Content -LiteralPath (Join-Path -Path $examples -ChildPath 'Fleet.ps1') -Raw
    $asFunction = [regex]::Replace($text, '(?m)^Configuration(\s+PrefectFleet\s*\{)', 'function$1')
    $errors = $null
    $scriptAst = [System.Management.Automation.Language.Parser]::ParseInput($asFunction, [ref]$null, [ref]$errors)
    $definition = $scriptAst.Find({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $node.Name -eq 'PrefectFleet' }, $true)
    $blocks = @($definition.FindAll({
                param($node)
                $node -is [System.Management.Automation.Language.ScriptBlockExpressionAst] -and $node.Parent -is [System.Management.Automation.Language.CommandAst] -and @('PrefectService', 'PrefectSetting') -contains $node.Parent.GetCommandName()
            }, $true))
    $functionText = $definition.Extent.Text
    foreach ($block in @($blocks | Sort-Object -Property { $_.Extent.StartOffset } -Descending)) {
        $functionText = $functionText.Insert($block.Extent.StartOffset - $definition.Extent.StartOffset, '@')
    }
    $fleetConfiguration = [scriptblock]::Create($functionText)

    function Get-TestFleetInstance {
        # Every node's resource instances, as a compile would make them: what is $null or an
        # empty list is left out (DSC writes NULL, the LCM sets nothing).
        param([hashtable] $ConfigurationData, [System.Management.Automation.PSCredential] $AuthCredential, [System.Management.Automation.PSCredential] $DatabaseCredential)
        $fleet = ConvertTo-PrefectFleetData -ConfigurationData $ConfigurationData -AuthCredential $AuthCredential -DatabaseCredential $DatabaseCredential
        $collected = New-Object -TypeName 'System.Collections.Generic.List[object]'
        $AllNodes = $fleet.AllNodes
        function Import-DscResource {
            param([string] $ModuleName)
            $null = $ModuleName
        }
        function Node {
            param([string[]] $Name, [scriptblock] $Body)
            foreach ($nodeName in $Name) {
                $Node = @($AllNodes | Where-Object -FilterScript { $_.NodeName -eq $nodeName })[0]
                . $Body
            }
        }
        function Add-TestInstance {
            param([string] $Resource, [string] $Id, [hashtable] $Properties)
            $kept = @{}
            foreach ($key in $Properties.Keys) {
                $value = $Properties[$key]
                if ($null -ne $value -and -not ($value -is [array] -and $value.Count -eq 0)) {
                    $kept[$key] = $value
                }
            }
            $collected.Add([PSCustomObject]@{ Node = $Node.NodeName; Resource = $Resource; Id = $Id; Properties = $kept })
        }
        function PrefectService {
            param([string] $Id, [hashtable] $Properties)
            Add-TestInstance -Resource 'PrefectService' -Id $Id -Properties $Properties
        }
        function PrefectSetting {
            param([string] $Id, [hashtable] $Properties)
            Add-TestInstance -Resource 'PrefectSetting' -Id $Id -Properties $Properties
        }
        . $fleetConfiguration
        PrefectFleet
        , $collected.ToArray()
    }

    function Invoke-TestFleetValidation {
        # Each instance set on the module's real class, then its [DscProperty()] values (as
        # Invoke-PrefectDscResource sends them) judged by the backend.
        param([object[]] $Instance, [hashtable] $MachineVariables = @{})
        $entries = foreach ($item in $Instance) {
            $resource = & $prefectWin { param($Name) New-Object -TypeName $Name } $item.Resource
            foreach ($key in $item.Properties.Keys) {
                if ($key -ne 'DependsOn') {
                    $resource.$key = $item.Properties[$key]
                }
            }
            $properties = @{}
            foreach ($property in $resource.GetType().GetProperties()) {
                if ($property.IsDefined([System.Management.Automation.DscPropertyAttribute], $true)) {
                    $value = $property.GetValue($resource)
                    if ($value -is [enum]) {
                        $value = $value.ToString()
                    } elseif ($value -is [System.Management.Automation.PSCredential]) {
                        $value = @{ userName = $value.UserName; password = $value.GetNetworkCredential().Password }
                    }
                    $properties[$property.Name] = $value
                }
            }
            $variables = @{}
            if ($MachineVariables.ContainsKey($item.Node)) {
                $variables = $MachineVariables[$item.Node]
            }
            @{ node = $item.Node; resource = $item.Resource; id = $item.Id; properties = $properties; machineVariables = $variables }
        }
        $request = ConvertTo-Json -InputObject @{ instances = @($entries) } -Depth 6 -Compress
        $answer = $request | & $python $validator
        if ($LASTEXITCODE -ne 0) {
            throw "tests/fleet_validate.py failed (exit $LASTEXITCODE): $answer"
        }
        $text = (@($answer) -join "`n")
        $text | Should -Not -Match ([regex]::Escape($authPassword)) -Because 'no refusal quotes a secret'
        $text | Should -Not -Match ([regex]::Escape($databasePassword)) -Because 'no refusal quotes a secret'
        @(ConvertFrom-Json -InputObject $text)
    }

    function Get-TestVariableFleet {
        # Examples/Fleet.psd1 with the secrets taken from machine variables instead: no
        # credential, so no node needs a certificate.
        $data = Import-PowerShellDataFile -Path $sampleData
        foreach ($node in $data.AllNodes) {
            $node.Remove('CertificateFile')
            $node.Remove('Thumbprint')
        }
        $data.NonNodeData.PrefectFleet.Remove('DatabaseUrl')
        $data.NonNodeData.PrefectFleet['AuthStringVariable'] = 'PREFECT_AUTH'
        $data.NonNodeData.PrefectFleet['DatabaseUrlVariable'] = 'PREFECT_DATABASE_URL'
        $data
    }
}

Describe 'The examples'' help' {
    It '<File> has comment help with a synopsis, every parameter and an example' -ForEach @(
        Get-ChildItem -Path (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'examples') -Filter '*.ps1' -File |
            ForEach-Object -Process { @{ File = 'examples/' + $_.Name; Path = $_.FullName } }
    ) {
        # Read as text ('Configuration' as 'function'): Get-Help would need DSC to parse them.
        $source = [regex]::Replace((Get-Content -LiteralPath $Path -Raw), '(?m)^Configuration(\s+\w+\s*\{)', 'function$1')
        $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($source, [ref]$null, [ref]$parseErrors)
        # A script with parameters documents itself; a file of functions (FleetData.ps1), each
        # of its top-level functions.
        $documented = @($ast)
        if ($null -eq $ast.ParamBlock) {
            $documented = @($ast.EndBlock.Statements | Where-Object -FilterScript { $_ -is [System.Management.Automation.Language.FunctionDefinitionAst] } | ForEach-Object -Process { $_.Body })
        }
        $documented.Count | Should -BeGreaterThan 0
        foreach ($block in $documented) {
            $help = $block.GetHelpContent()
            $help | Should -Not -BeNullOrEmpty -Because "$File documents itself"
            $help.Synopsis | Should -Not -BeNullOrEmpty
            @($help.Examples).Count | Should -BeGreaterThan 0
            foreach ($parameter in @($block.ParamBlock.Parameters)) {
                $name = $parameter.Name.VariablePath.UserPath
                $help.Parameters.Keys | Should -Contain $name.ToUpperInvariant() -Because "$File documents -$name"
            }
        }
    }
}

Describe 'examples/Fleet.ps1: one server and N workers from ConfigurationData' {
    It 'Fleet.psd1 gives the server its auth and a firewall rule for the workers'' subnet, and each worker the server''s address and auth' {
        $instances = Get-TestFleetInstance -ConfigurationData (Import-PowerShellDataFile -Path $sampleData) -AuthCredential $auth -DatabaseCredential $database
        $services = @($instances | Where-Object -FilterScript { $_.Resource -eq 'PrefectService' })
        (@($services | ForEach-Object -Process { '{0}/{1}' -f $_.Node, $_.Id }) -join ',') | Should -BeExactly 'prefect01/Server,worker01/Worker,worker02/Worker'

        $server = $services[0].Properties
        $server.Role | Should -BeExactly 'Server'
        $server.BindAddress | Should -BeExactly '0.0.0.0'
        $server.AuthCredential | Should -Be $auth
        $server.DatabaseCredential | Should -Be $database
        $server.DatabaseUrl | Should -BeExactly 'postgresql+asyncpg://prefect@db01:5432/prefect'
        $server.OpenFirewall | Should -BeTrue
        @($server.AllowFrom) | Should -Be @('10.0.1.0/24')
        @($server.FirewallProfile) | Should -Be @('Domain')
        $server.ContainsKey('AuthStringVariable') | Should -BeFalse
        $server.ContainsKey('Account') | Should -BeFalse -Because 'the default is the service''s own virtual account'

        foreach ($worker in @($services | Select-Object -Skip 1)) {
            $worker.Properties.ApiUrl | Should -BeExactly 'http://10.0.1.10:4200/api'
            $worker.Properties.AuthCredential | Should -Be $auth
            $worker.Properties.ContainsKey('DependsOn') | Should -BeFalse -Because 'DSC cannot depend on a resource of another node'
            $worker.Properties.ContainsKey('DatabaseCredential') | Should -BeFalse
        }
        @($services | ForEach-Object -Process { $_.Properties.Pool }) | Should -Be @($null, 'windows', 'etl')
        $settings = @($instances | Where-Object -FilterScript { $_.Resource -eq 'PrefectSetting' -and $_.Id -eq 'ApiUrl' })
        @($settings | ForEach-Object -Process { $_.Properties.Value }) | Should -Be @('http://127.0.0.1:4200/api', 'http://10.0.1.10:4200/api', 'http://10.0.1.10:4200/api')
    }

    It 'every node''s instances of Fleet.psd1 pass the backend''s DSC validation, with credentials' {
        $instances = Get-TestFleetInstance -ConfigurationData (Import-PowerShellDataFile -Path $sampleData) -AuthCredential $auth -DatabaseCredential $database
        $verdicts = Invoke-TestFleetValidation -Instance $instances
        $verdicts.Count | Should -Be 9
        @($verdicts | Where-Object -FilterScript { -not $_.ok } | ForEach-Object -Process { '{0}/{1}: {2}' -f $_.node, $_.id, $_.message }) | Should -BeNullOrEmpty
    }

    It 'with machine variables instead, the MOF holds only their names, and a node without the variable is refused' {
        $instances = Get-TestFleetInstance -ConfigurationData (Get-TestVariableFleet)
        $services = @($instances | Where-Object -FilterScript { $_.Resource -eq 'PrefectService' })
        foreach ($service in $services) {
            $service.Properties.AuthStringVariable | Should -BeExactly 'PREFECT_AUTH'
            $service.Properties.ContainsKey('AuthCredential') | Should -BeFalse
        }
        $services[0].Properties.DatabaseUrlVariable | Should -BeExactly 'PREFECT_DATABASE_URL'
        $held = @{
            prefect01 = @{ PREFECT_AUTH = "admin:$authPassword"; PREFECT_DATABASE_URL = "postgresql+asyncpg://prefect:$databasePassword@db01:5432/prefect" }
            worker01 = @{ PREFECT_AUTH = "admin:$authPassword" }
            worker02 = @{ PREFECT_AUTH = "admin:$authPassword" }
        }
        @(Invoke-TestFleetValidation -Instance $instances -MachineVariables $held | Where-Object -FilterScript { -not $_.ok }) | Should -BeNullOrEmpty

        $held.Remove('worker02')
        $refused = @(Invoke-TestFleetValidation -Instance $instances -MachineVariables $held | Where-Object -FilterScript { -not $_.ok })
        @($refused | ForEach-Object -Process { '{0}/{1}' -f $_.node, $_.id }) | Should -Be @('worker02/Worker')
        $refused[0].target | Should -BeExactly 'properties.authStringVariable'
        $refused[0].message | Should -BeLike "*'PREFECT_AUTH', which is not set on this computer*"
    }

    It 'the backend refuses what the data rules let through: <Name>' -ForEach @(
        @{ Name = 'a user account (its password would be in the MOF)'; Key = 'Account'; Value = 'CONTOSO\alice'; Target = 'Credential' }
        @{ Name = 'a port out of range'; Key = 'Port'; Value = 70000; Target = 'params.port' }
        @{ Name = 'a relative PythonPath'; Key = 'PythonPath'; Value = 'venv\Scripts\python.exe'; Target = 'PythonPath' }
    ) {
        $data = Import-PowerShellDataFile -Path $sampleData
        $data.NonNodeData.PrefectFleet[$Key] = $Value
        foreach ($node in $data.AllNodes) {
            $node.Remove($Key)
        }
        $verdicts = Invoke-TestFleetValidation -Instance (Get-TestFleetInstance -ConfigurationData $data -AuthCredential $auth -DatabaseCredential $database)
        $refused = @($verdicts | Where-Object -FilterScript { -not $_.ok -and $_.resource -eq 'PrefectService' })
        $refused.Count | Should -BeGreaterThan 0
        $refused[0].target | Should -BeExactly $Target
        $refused[0].code | Should -BeExactly 'InvalidArgument'
        $refused[0].message | Should -Not -BeNullOrEmpty
    }

    It 'Role Both is examples/ServerAndWorker.ps1: both services on one node, the worker after the server on loopback, no firewall rule' {
        $data = @{ AllNodes = @(@{ NodeName = 'localhost'; Role = 'Both'; PythonPath = 'C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe' }); NonNodeData = @{ PrefectFleet = @{ AuthStringVariable = 'PREFECT_AUTH'; DatabaseUrlVariable = 'PREFECT_DATABASE_URL'; Pool = 'etl' } } }
        $instances = Get-TestFleetInstance -ConfigurationData $data
        (@($instances | ForEach-Object -Process { $_.Id }) -join ',') | Should -BeExactly 'Server,Worker,ApiUrl,ApiUrlProfile'
        $instances[1].Properties.ApiUrl | Should -BeExactly 'http://127.0.0.1:4200/api'
        @($instances[1].Properties.DependsOn) | Should -Be @('[PrefectService]Server')
        $instances[1].Properties.Pool | Should -BeExactly 'etl'
        $instances[0].Properties.OpenFirewall | Should -BeFalse
        $held = @{ localhost = @{ PREFECT_AUTH = 'admin:x'; PREFECT_DATABASE_URL = 'postgresql+asyncpg://prefect:y@db01/prefect' } }
        @(Invoke-TestFleetValidation -Instance $instances -MachineVariables $held | Where-Object -FilterScript { -not $_.ok }) | Should -BeNullOrEmpty
        $sample = Get-Content -LiteralPath (Join-Path -Path $examples -ChildPath 'ServerAndWorker.ps1') -Raw
        $sample | Should -Match ([regex]::Escape("Role = 'Both'"))
        $sample | Should -Match ([regex]::Escape("-ChildPath 'Fleet.ps1'"))
    }

    It 'refuses a broken ConfigurationData clearly: <Name>' -ForEach @(
        @{ Name = 'a worker without a server'; Change = { param($d) $d.AllNodes = @($d.AllNodes | Select-Object -Skip 1) }; Expected = 'No node has Role Server*' }
        @{ Name = 'two servers'; Change = { param($d) $d.AllNodes[1]['Role'] = 'Server' }; Expected = 'More than one node is a server (prefect01, worker01)*' }
        @{ Name = 'plain-text passwords allowed on a node'; Change = { param($d) $d.AllNodes[2]['PSDscAllowPlainTextPassword'] = $true }; Expected = 'ConfigurationData sets PSDscAllowPlainTextPassword*certificate*' }
        @{ Name = 'a node without its certificate'; Change = { param($d) $d.AllNodes[2].Remove('CertificateFile') }; Expected = 'Node worker02: no CertificateFile. DSC encrypts a credential with the node''s certificate*' }
        @{ Name = 'a node without its thumbprint'; Change = { param($d) $d.AllNodes[0].Remove('Thumbprint') }; Expected = 'Node prefect01: no Thumbprint*' }
        @{ Name = 'a password in DatabaseUrl'; Change = { param($d) $d.NonNodeData.PrefectFleet['DatabaseUrl'] = 'postgresql+asyncpg://prefect:hunter2@db01/prefect' }; Expected = 'DatabaseUrl holds a password*' }
        @{ Name = 'a node without PythonPath'; Change = { param($d) $d.AllNodes[1].Remove('PythonPath') }; Expected = 'Node worker01: no PythonPath*Install-PrefectStack -Role Worker*' }
        @{ Name = 'an unknown role'; Change = { param($d) $d.AllNodes[1]['Role'] = 'Agent' }; Expected = 'Node worker01: Role is ''Agent''*' }
        @{ Name = 'a worker without Address and no AllowFrom'; Change = { param($d) $d.NonNodeData.PrefectFleet.Remove('AllowFrom'); $d.AllNodes[2].Remove('Address') }; Expected = 'Node worker02: no Address, and the fleet has no AllowFrom*' }
        @{ Name = 'both a credential and AuthStringVariable'; Change = { param($d) $d.NonNodeData.PrefectFleet['AuthStringVariable'] = 'PREFECT_AUTH' }; Expected = 'Both -AuthCredential and AuthStringVariable*' }
    ) {
        $data = Import-PowerShellDataFile -Path $sampleData
        $null = & $Change $data
        { ConvertTo-PrefectFleetData -ConfigurationData $data -AuthCredential $auth -DatabaseCredential $database } | Should -Throw -ExpectedMessage $Expected
    }

    It 'asks a certificate only of the server when only the database password is a credential' {
        $data = Get-TestVariableFleet
        $data.NonNodeData.PrefectFleet.Remove('DatabaseUrlVariable')
        $data.NonNodeData.PrefectFleet['DatabaseUrl'] = 'postgresql+asyncpg://prefect@db01:5432/prefect'
        { ConvertTo-PrefectFleetData -ConfigurationData $data -DatabaseCredential $database } | Should -Throw -ExpectedMessage 'Node prefect01: no CertificateFile*'
        $data.AllNodes[0]['CertificateFile'] = 'C:\dsc\certificates\prefect01.cer'
        $data.AllNodes[0]['Thumbprint'] = '1111111111111111111111111111111111111111'
        $instances = Get-TestFleetInstance -ConfigurationData $data -DatabaseCredential $database
        @($instances | Where-Object -FilterScript { $_.Properties.ContainsKey('DatabaseCredential') } | ForEach-Object -Process { $_.Node }) | Should -Be @('prefect01')
        $held = @{ prefect01 = @{ PREFECT_AUTH = 'admin:x' }; worker01 = @{ PREFECT_AUTH = 'admin:x' }; worker02 = @{ PREFECT_AUTH = 'admin:x' } }
        @(Invoke-TestFleetValidation -Instance $instances -MachineVariables $held | Where-Object -FilterScript { -not $_.ok }) | Should -BeNullOrEmpty
    }

    It 'refuses a fleet without any auth, and -DatabaseCredential without DatabaseUrl' {
        $data = Import-PowerShellDataFile -Path $sampleData
        { ConvertTo-PrefectFleetData -ConfigurationData $data } | Should -Throw -ExpectedMessage 'The server listens on the network, so it needs basic auth*'
        $data.NonNodeData.PrefectFleet.Remove('DatabaseUrl')
        { ConvertTo-PrefectFleetData -ConfigurationData $data -AuthCredential $auth -DatabaseCredential $database } | Should -Throw -ExpectedMessage '-DatabaseCredential is given but no DatabaseUrl*'
    }

    It 'compiles Fleet.psd1 to one MOF per node with PSDesiredStateConfiguration, naming only machine variables' -Tag 'Windows' {
        if (-not $canCompile) {
            Set-ItResult -Skipped -Because 'PSDesiredStateConfiguration is not installed here (it is Windows only), so no MOF can be compiled; the instances above are what the compile makes'
            return
        }
        $output = Join-Path -Path $TestDrive -ChildPath 'fleet-mof'
        Invoke-TestWithModuleOnPath -ModuleRoot $repositoryRoot -Folder (Join-Path -Path $TestDrive -ChildPath 'Modules') -ScriptBlock {
            $null = & (Join-Path -Path $examples -ChildPath 'Fleet.ps1') -ConfigurationData (Get-TestVariableFleet) -OutputPath $output
        }
        (@(Get-ChildItem -Path $output -Filter '*.mof' | ForEach-Object -Process { $_.BaseName } | Sort-Object) -join ',') | Should -BeExactly 'prefect01,worker01,worker02'
        $serverMof = Get-Content -LiteralPath (Join-Path -Path $output -ChildPath 'prefect01.mof') -Raw
        $serverMof | Should -Match 'ResourceID = "\[PrefectService\]Server"'
        $serverMof | Should -Match 'AuthStringVariable = "PREFECT_AUTH"'
        $serverMof | Should -Match '"10\.0\.1\.0/24"'
        $workerMof = Get-Content -LiteralPath (Join-Path -Path $output -ChildPath 'worker02.mof') -Raw
        $workerMof | Should -Match 'ApiUrl = "http://10\.0\.1\.10:4200/api"'
        $workerMof | Should -Match 'Pool = "etl"'
        $workerMof | Should -Not -Match '\[PrefectService\]Server'
        foreach ($mof in @($serverMof, $workerMof)) {
            $mof | Should -Not -Match '(?i)password'
        }
    }
}
