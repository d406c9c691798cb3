<#
.SYNOPSIS
Sample DSC configuration: a Prefect server and a worker on one node, with PrefectWin.

.DESCRIPTION
Compiles the configuration PrefectServerAndWorker to a MOF in -OutputPath. Apply it with
Start-DscConfiguration (see the example). The worker's PrefectService block has
DependsOn = '[PrefectService]Server', so DSC makes the server right before the worker; the
worker's Windows service also depends on the server's (PrefectWin makes a worker depend on the
PrefectWin server of its computer by default; ServiceDependency sets other dependencies).

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

Configuration PrefectServerAndWorker {
    param(
        [Parameter()]
        [string] $WorkPool,

        [Parameter()]
        [string] $ServerDatabaseUrl,

        [Parameter()]
        [System.Management.Automation.PSCredential] $ServerDatabaseCredential,

        [Parameter()]
        [string] $ServerDatabaseUrlVariable,

        [Parameter()]
        [System.Management.Automation.PSCredential] $ServerAuthCredential,

        [Parameter()]
        [string] $ServerAuthStringVariable
    )

    Import-DscResource -ModuleName 'PrefectWin'

    Node $AllNodes.NodeName {
        if ($null -ne $ServerDatabaseCredential) {
            PrefectService Server {
                Name = 'PrefectServer'
                Ensure = 'Present'
                Role = 'Server'
                Port = 4200
                BindAddress = '0.0.0.0'
                PrefectHome = 'C:\ProgramData\Prefect'
                StartupType = 'Automatic'
                DatabaseUrl = $ServerDatabaseUrl
                DatabaseCredential = $ServerDatabaseCredential
                AuthCredential = $ServerAuthCredential
            }

            PrefectService Worker {
                Name = 'PrefectWorker'
                Ensure = 'Present'
                Role = 'Worker'
                Pool = $WorkPool
                WorkerType = 'process'
                ApiUrl = 'http://127.0.0.1:4200/api'
                PrefectHome = 'C:\ProgramData\Prefect'
                StartupType = 'Automatic'
                AuthCredential = $ServerAuthCredential
                DependsOn = '[PrefectService]Server'
            }
        } else {
            PrefectService Server {
                Name = 'PrefectServer'
                Ensure = 'Present'
                Role = 'Server'
                Port = 4200
                BindAddress = '0.0.0.0'
                PrefectHome = 'C:\ProgramData\Prefect'
                StartupType = 'Automatic'
                DatabaseUrlVariable = $ServerDatabaseUrlVariable
                AuthStringVariable = $ServerAuthStringVariable
            }

            PrefectService Worker {
                Name = 'PrefectWorker'
                Ensure = 'Present'
                Role = 'Worker'
                Pool = $WorkPool
                WorkerType = 'process'
                ApiUrl = 'http://127.0.0.1:4200/api'
                PrefectHome = 'C:\ProgramData\Prefect'
                StartupType = 'Automatic'
                AuthStringVariable = $ServerAuthStringVariable
                DependsOn = '[PrefectService]Server'
            }
        }

        # So that 'prefect' at any prompt on this node talks to this server. PrefectSetting is
        # keyed by Name and Scope: the same setting may be kept in two scopes of one node.
        PrefectSetting ApiUrl {
            Name = 'PREFECT_API_URL'
            Scope = 'Machine'
            Ensure = 'Present'
            Value = 'http://127.0.0.1:4200/api'
            DependsOn = '[PrefectService]Server'
        }

        # And the active profile of the account DSC runs as holds no other API URL.
        PrefectSetting ApiUrlProfile {
            Name = 'PREFECT_API_URL'
            Scope = 'Profile'
            Ensure = 'Absent'
        }
    }
}

$node = @{ NodeName = $NodeName }
$arguments = @{ WorkPool = $Pool }
if ($PSCmdlet.ParameterSetName -eq 'Credential') {
    # Encrypt the credential for this node; never PsDscAllowPlainTextPassword.
    $node['CertificateFile'] = $CertificateFile
    $node['Thumbprint'] = $Thumbprint
    $arguments['ServerDatabaseUrl'] = $DatabaseUrl
    $arguments['ServerDatabaseCredential'] = $DatabaseCredential
    $arguments['ServerAuthCredential'] = $AuthCredential
} else {
    $arguments['ServerDatabaseUrlVariable'] = $DatabaseUrlVariable
    $arguments['ServerAuthStringVariable'] = $AuthStringVariable
}
$configurationData = @{ AllNodes = @($node) }
PrefectServerAndWorker -ConfigurationData $configurationData -OutputPath $OutputPath @arguments
