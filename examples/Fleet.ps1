<#
.SYNOPSIS
Sample DSC configuration: one Prefect server and N workers on N+1 nodes, with PrefectWin,
driven by ConfigurationData.

.DESCRIPTION
Compiles the configuration PrefectFleet to one MOF per node in -OutputPath. The nodes and their
roles are ConfigurationData (examples/Fleet.psd1 is a sample): AllNodes with a Role per node
(Server, Worker, or Both: a server and a worker on one node, which is what
examples/ServerAndWorker.ps1 compiles with this same configuration) and NonNodeData.PrefectFleet
for what the nodes share. ConvertTo-PrefectFleetData (examples/FleetData.ps1) checks the data
first and works out each node's values: the workers' ApiUrl is the server node's Address and
Port, and they send the server's auth.

What each node needs before the MOF is applied: PowerShell 5.1 with PrefectWin installed where
DSC finds it, and Python with a venv holding Prefect, whose python.exe is the node's PythonPath.
This configuration does not make the venv: the node's image has it, or Install-PrefectStack
made it (%ProgramData%\PrefectWin\venvs\prefect-<version>), which also installed and started the
node's services under the names this configuration then manages (a worker's run needs its
server healthy, or it rolls back, venv included). PythonPath names its python.exe.

Security, the same as examples/ServerAndWorker.ps1:
  - the server listens on BindAddress (default 0.0.0.0) and requires Prefect's basic auth; the
    workers send the same auth string;
  - with workers on other nodes the server gets an inbound firewall rule for its port, scoped to
    AllowFrom (or the workers' Address values) on the FirewallProfile profiles (default Domain
    and Private);
  - every service runs as its own virtual account NT SERVICE\<name> unless Account says
    otherwise (a gMSA, never a user account, whose password a MOF would hold);
  - no secret is in a MOF in clear text, and PsDscAllowPlainTextPassword is never used (the data
    is refused if it sets it). Either -AuthCredential and -DatabaseCredential are PSCredentials,
    which DSC encrypts in each node's MOF with that node's certificate (CertificateFile, the .cer
    without its private key, and Thumbprint in the node's data; the node's LCM names the same
    certificate as CertificateID, and its private key is in LocalMachine\My), or
    NonNodeData.PrefectFleet names machine environment variables that hold the secrets on each
    node (AuthStringVariable: USER:PASSWORD; DatabaseUrlVariable: the whole URL on the server),
    set out of band, for example by the agent of your secret store.

A worker on another node cannot DependsOn the server in DSC; its install checks the server with
one authenticated call and fails while the server is not up, and the LCM tries again at its next
consistency check. Apply the server's MOF first to avoid that round.

.PARAMETER ConfigurationData
The fleet: the path of a .psd1 (such as examples/Fleet.psd1) or the hashtable itself.

.PARAMETER AuthCredential
Prefect's basic auth for the server and the workers: user name and password. Without it,
NonNodeData.PrefectFleet.AuthStringVariable must name the machine variable that holds it.

.PARAMETER DatabaseCredential
The server's database user and password, for NonNodeData.PrefectFleet.DatabaseUrl (the URL
without its password). Without a database key the server uses SQLite under PrefectHome.

.PARAMETER OutputPath
Where the MOFs go, one per node. Default: .\PrefectFleet.

.EXAMPLE
$auth = Get-Credential -UserName 'admin' -Message 'Prefect API basic auth'
$database = Get-Credential -UserName 'prefect' -Message 'PostgreSQL password'
.\examples\Fleet.ps1 -ConfigurationData .\examples\Fleet.psd1 -AuthCredential $auth -DatabaseCredential $database
Start-DscConfiguration -Path .\PrefectFleet -ComputerName prefect01 -Wait -Verbose
Start-DscConfiguration -Path .\PrefectFleet -ComputerName worker01, worker02 -Wait -Verbose

Compiles one MOF per node with the credentials encrypted for each node, then applies the
server's before the workers'.

.EXAMPLE
$fleet = Import-PowerShellDataFile -Path .\examples\Fleet.psd1
$fleet.NonNodeData.PrefectFleet.Remove('DatabaseUrl')
$fleet.NonNodeData.PrefectFleet['AuthStringVariable'] = 'PREFECT_AUTH'
$fleet.NonNodeData.PrefectFleet['DatabaseUrlVariable'] = 'PREFECT_DATABASE_URL'
.\examples\Fleet.ps1 -ConfigurationData $fleet

Compiles MOFs that hold only the names of the machine variables with the secrets.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [object] $ConfigurationData,

    [Parameter()]
    [System.Management.Automation.PSCredential] $AuthCredential,

    [Parameter()]
    [System.Management.Automation.PSCredential] $DatabaseCredential,

    [Parameter()]
    [string] $OutputPath = (Join-Path -Path (Get-Location).Path -ChildPath 'PrefectFleet')
)

. (Join-Path -Path $PSScriptRoot -ChildPath 'FleetData.ps1')

# One block per resource serves every node, both roles and both ways of giving a secret: the
# node's Services (ConvertTo-PrefectFleetData) say which, and what a service does not use is
# $null, which DSC writes to the MOF as NULL (unset).
Configuration PrefectFleet {
    Import-DscResource -ModuleName 'PrefectWin'

    Node $AllNodes.NodeName {
        foreach ($service in $Node.Services) {
            PrefectService $service.Id {
                Name = $service.Name
                Ensure = 'Present'
                Role = $service.Role
                Port = $service.Port
                BindAddress = $service.BindAddress
                Pool = $service.Pool
                WorkerType = $service.WorkerType
                ApiUrl = $service.ApiUrl
                PrefectHome = $Node.PrefectHome
                PythonPath = $Node.PythonPath
                StartupType = 'Automatic'
                Account = $Node.Account
                DatabaseUrl = $service.DatabaseUrl
                DatabaseCredential = $service.DatabaseCredential
                DatabaseUrlVariable = $service.DatabaseUrlVariable
                AuthCredential = $service.AuthCredential
                AuthStringVariable = $service.AuthStringVariable
                OpenFirewall = $service.OpenFirewall
                AllowFrom = $service.AllowFrom
                FirewallProfile = $service.FirewallProfile
                DependsOn = $service.DependsOn
            }
        }

        # PREFECT_API_URL for 'prefect' at any prompt on the node: the fleet's server in the
        # machine's environment, and no other in the active profile of the account DSC runs as.
        # PrefectSetting is keyed by Name and Scope, so one setting is kept in two scopes.
        $apiUrlSettings = @(
            @{ Id = 'ApiUrl'; Scope = 'Machine'; Ensure = 'Present'; Value = $Node.ApiUrl; DependsOn = $Node.SettingDependsOn }
            @{ Id = 'ApiUrlProfile'; Scope = 'Profile'; Ensure = 'Absent'; Value = $null; DependsOn = [string[]]@() }
        )
        foreach ($apiUrlSetting in $apiUrlSettings) {
            PrefectSetting $apiUrlSetting.Id {
                Name = 'PREFECT_API_URL'
                Scope = $apiUrlSetting.Scope
                Ensure = $apiUrlSetting.Ensure
                Value = $apiUrlSetting.Value
                PythonPath = $Node.PythonPath
                DependsOn = $apiUrlSetting.DependsOn
            }
        }
    }
}

$data = $ConfigurationData
if ($data -is [string]) {
    $data = Import-PowerShellDataFile -Path $data
}
$fleet = ConvertTo-PrefectFleetData -ConfigurationData $data -AuthCredential $AuthCredential -DatabaseCredential $DatabaseCredential
PrefectFleet -ConfigurationData $fleet -OutputPath $OutputPath
