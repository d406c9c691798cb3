<#
.SYNOPSIS
Sample DSC configuration: a Prefect server and a worker on one node, with PrefectWin.

.DESCRIPTION
Compiles a MOF for one node in -OutputPath with the configuration PrefectFleet of
examples/Fleet.ps1, given one node with Role Both: this script only turns its parameters into
that ConfigurationData. Apply it with Start-DscConfiguration (see the example). The resource
[PrefectService]Worker DependsOn [PrefectService]Server, so DSC makes the server right before the
worker, which uses it on 127.0.0.1; the worker's Windows service also depends on the server's
(PrefectWin makes a worker depend on the PrefectWin server of its computer by default;
ServiceDependency sets other dependencies).

The server listens on 0.0.0.0 for workers on other computers, so it requires Prefect's basic
auth; the worker sends the same auth string. Neither the database password nor the auth string
goes into the MOF in clear text, and PsDscAllowPlainTextPassword is not used (a MOF compiled
with it keeps every PSCredential readable; the resource cannot tell, because the node's LCM
hands it the credential the same way). Two ways, one per parameter set:

  Credential  -DatabaseUrl is the URL WITHOUT its password, -DatabaseCredential and
              -AuthCredential PSCredentials. DSC encrypts a PSCredential in the MOF with the public key of the
              node's certificate: -CertificateFile is that certificate (the .cer, exported
              without its private key) and -Thumbprint its thumbprint. The node decrypts with
              the private key, so its LCM must name the same certificate:
                  [DscLocalConfigurationManager()]
                  Configuration LcmSettings {
                      Node 'localhost' {
                          Settings {
                              CertificateID = '<thumbprint>'
                          }
                      }
                  }
              The certificate needs the Document Encryption enhanced key usage
              (1.3.6.1.4.1.311.80.1) and its private key in LocalMachine\My on the node.

  Variable    -DatabaseUrlVariable is the NAME of a machine environment variable that holds the
              whole URL, password included, and -AuthStringVariable the NAME of one that holds
              the auth string USER:PASSWORD, set on the node out of band (for example by the
              agent of your secret store). The MOF holds only the names. The variables are read
              on the node each time DSC tests or sets the services.

.PARAMETER NodeName
The computer to configure. Default localhost.

.PARAMETER Pool
The work pool the worker polls. Default windows.

.PARAMETER PythonPath
The python.exe on the node that Prefect runs under: the venv Install-PrefectStack made there
(or the node's image holds); this configuration does not make it. Default
C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe.

.PARAMETER DatabaseUrl
The PostgreSQL URL without its password, for example
postgresql+asyncpg://prefect@db01:5432/prefect.

.PARAMETER DatabaseCredential
The database user and password.

.PARAMETER AuthCredential
Prefect's basic auth for the server and the worker: user name and password.

.PARAMETER CertificateFile
The node's public certificate (.cer) that DSC encrypts the credential with.

.PARAMETER Thumbprint
That certificate's thumbprint.

.PARAMETER DatabaseUrlVariable
The name of the machine environment variable on the node that holds the database URL.

.PARAMETER AuthStringVariable
The name of the machine environment variable on the node that holds the auth string
USER:PASSWORD.

.PARAMETER OutputPath
Where the MOF goes. Default: .\PrefectServerAndWorker.

.EXAMPLE
$credential = Get-Credential -UserName 'prefect' -Message 'PostgreSQL password'
$auth = Get-Credential -UserName 'admin' -Message 'Prefect API basic auth'
.\examples\ServerAndWorker.ps1 -DatabaseUrl 'postgresql+asyncpg://prefect@db01:5432/prefect' -DatabaseCredential $credential -AuthCredential $auth -CertificateFile 'C:\dsc\node.cer' -Thumbprint 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'
Start-DscConfiguration -Path .\PrefectServerAndWorker -Wait -Verbose

Compiles with an encrypted credential and applies the configuration to this computer.

.EXAMPLE
.\examples\ServerAndWorker.ps1 -DatabaseUrlVariable 'PREFECT_DATABASE_URL' -AuthStringVariable 'PREFECT_AUTH' -Pool 'etl'

Compiles a configuration that takes the database URL from the machine variable
PREFECT_DATABASE_URL and the auth string from PREFECT_AUTH on the node.
#>
[CmdletBinding(DefaultParameterSetName = 'Variable')]
param(
    [Parameter()]
    [string] $NodeName = 'localhost',

    [Parameter()]
    [string] $Pool = 'windows',

    [Parameter()]
    [string] $PythonPath = 'C:\ProgramData\PrefectWin\venvs\prefect-3.9.1\Scripts\python.exe',

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [string] $DatabaseUrl,

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [System.Management.Automation.PSCredential] $DatabaseCredential,

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [System.Management.Automation.PSCredential] $AuthCredential,

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [string] $CertificateFile,

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [string] $Thumbprint,

    [Parameter(Mandatory = $true, ParameterSetName = 'Variable')]
    [string] $DatabaseUrlVariable,

    [Parameter(Mandatory = $true, ParameterSetName = 'Variable')]
    [string] $AuthStringVariable,

    [Parameter()]
    [string] $OutputPath = (Join-Path -Path (Get-Location).Path -ChildPath 'PrefectServerAndWorker')
)

$node = @{ NodeName = $NodeName; Role = 'Both'; PythonPath = $PythonPath }
$fleet = @{ Pool = $Pool }
$secrets = @{}
if ($PSCmdlet.ParameterSetName -eq 'Credential') {
    # Encrypt the credentials for this node; never PsDscAllowPlainTextPassword.
    $node['CertificateFile'] = $CertificateFile
    $node['Thumbprint'] = $Thumbprint
    $fleet['DatabaseUrl'] = $DatabaseUrl
    $secrets['DatabaseCredential'] = $DatabaseCredential
    $secrets['AuthCredential'] = $AuthCredential
} else {
    $fleet['DatabaseUrlVariable'] = $DatabaseUrlVariable
    $fleet['AuthStringVariable'] = $AuthStringVariable
}
$configurationData = @{ AllNodes = @($node); NonNodeData = @{ PrefectFleet = $fleet } }
& (Join-Path -Path $PSScriptRoot -ChildPath 'Fleet.ps1') -ConfigurationData $configurationData -OutputPath $OutputPath @secrets
