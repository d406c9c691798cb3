# PrefectWin root module: the private helpers, one public cmdlet per file, and the DSC resources.
# The manifest's FunctionsToExport is the authoritative export list; Export-ModuleMember keeps
# the module correct when it is imported by its .psm1 alone (as some tests and tools do).
#
# The DSC resource classes are declared in THIS file because DSC finds class-based resources
# only in the root module (or a nested module the manifest lists), never in dot-sourced files.
# Their methods call one private function of this module (Private/Invoke-PrefectDscResource.ps1),
# which a class defined here can see.
#
# './build.ps1 Build' (tools/build_module.py) replaces the region 'PrefectWin.Sources' with the
# text of every Private/ and Public/ file and a literal Export-ModuleMember, and keeps the rest.
Set-StrictMode -Version 3.0

# The module's folder, in this layout and in the built one alike ($PSScriptRoot of a dot-sourced
# file is its own folder, which the build does away with). The backend starts here.
$script:PrefectWinModuleRoot = $PSScriptRoot

#region PrefectWin.Sources
$privateFiles = @(Get-ChildItem -Path (Join-Path -Path $PSScriptRoot -ChildPath 'Private') -Filter '*.ps1' -File | Sort-Object -Property Name)
$publicFiles = @(Get-ChildItem -Path (Join-Path -Path $PSScriptRoot -ChildPath 'Public') -Filter '*.ps1' -File | Sort-Object -Property Name)

foreach ($file in @($privateFiles + $publicFiles)) {
    . $file.FullName
}

Export-ModuleMember -Function @($publicFiles | ForEach-Object -Process { $_.BaseName })
#endregion PrefectWin.Sources

# The runspace's backend (Start-PrefectBackend starts it on first use), and how many were started.
$script:PrefectWinBackend = $null
$script:PrefectWinBackendStarts = 0

# The backend must not outlive the module (Remove-Module, Import-Module -Force) or PowerShell
# (exit): it is ended on both. An event action runs in a module of its own, so it is handed a
# script block of this module's to call. A killed PowerShell closes the backend's stdin, and
# 'prefectwin serve' then exits as well (and watches its parent process mid-request).
$script:PrefectWinExiting = Register-EngineEvent -SourceIdentifier ([System.Management.Automation.PsEngineEvent]::Exiting) -MessageData { $null = Close-PrefectBackendSession -TimeoutSec 2 } -Action { $Event.MessageData.Invoke() }
$ExecutionContext.SessionState.Module.OnRemove = {
    Get-EventSubscriber -Force | Where-Object -FilterScript { [object]::ReferenceEquals($_.Action, $script:PrefectWinExiting) } | Unregister-Event -Force
    Remove-Job -Job $script:PrefectWinExiting -Force
    $null = Close-PrefectBackendSession -TimeoutSec 5
}

# --------------------------------------------------------------------------------------------
# DSC resources: shims over the backend's dsc.get, dsc.test, dsc.set and dsc.export (read state,
# plan, apply). Each method calls Invoke-PrefectDscResource and nothing else; the backend
# validates every property and says what is wrong, so no [ValidateSet()] here can drift from it.
# dsc/*.dsc.resource.json are the same resources for DSC v3, with no class at all.
# tests/DscShape.Tests.ps1 checks these classes. Enums are prefixed with the module's name:
# two modules with a class or enum of the same name break each other's configurations.
# --------------------------------------------------------------------------------------------
enum PrefectEnsure {
    Present
    Absent
}

# A Prefect server or worker as a Windows service (Install-PrefectService), running when Present.
#
# Database secrets never go into a MOF in clear text. They come from DatabaseCredential (a
# PSCredential, which DSC encrypts in the MOF with the node's certificate), or from
# DatabaseUrlVariable, the NAME of a machine environment variable that holds the whole URL.
# DatabaseUrl is the URL WITHOUT its password (the backend refuses one with a password).
#
# 'DependsOn' is DSC's own meta-property in every resource block (the order of resources), so
# the Windows service dependencies (Install-PrefectService -DependsOn) are ServiceDependency.
[DscResource()]
class PrefectService {
    [DscProperty(Key)] [string] $Name
    [DscProperty()] [PrefectEnsure] $Ensure = [PrefectEnsure]::Present

    # Server or Worker; required when Ensure is Present.
    [DscProperty()] [string] $Role
    [DscProperty()] [int] $Port
    [DscProperty()] [string] $BindAddress
    [DscProperty()] [string] $PrefectHome
    [DscProperty()] [string] $PythonPath
    [DscProperty()] [string] $Pool
    [DscProperty()] [string] $WorkerType
    [DscProperty()] [string] $ApiUrl

    # Automatic (the default), AutomaticDelayed or Manual.
    [DscProperty()] [string] $StartupType
    [DscProperty()] [string[]] $ServiceDependency
    [DscProperty()] [string] $DatabaseUrl
    [DscProperty()] [System.Management.Automation.PSCredential] $DatabaseCredential
    [DscProperty()] [string] $DatabaseUrlVariable

    # Prefect's basic auth (Install-PrefectService -AuthCredential): a server requires it, a
    # worker sends it. AuthCredential is a PSCredential, so compile with the node's certificate
    # (CertificateFile in the configuration data), never PSDscAllowPlainTextPassword; or give
    # AuthStringVariable, the NAME of a machine environment variable holding USER:PASSWORD.
    # A server with a non-loopback BindAddress needs one of them, or AllowAnonymous.
    [DscProperty()] [System.Management.Automation.PSCredential] $AuthCredential
    [DscProperty()] [string] $AuthStringVariable
    [DscProperty()] [bool] $AllowAnonymous

    # Log rotation and retention (Install-PrefectService -LogRotateBytes and the rest).
    # LogRotateBytes and LogRetentionCount: 0 (unset) means PrefectWin's default, 10 MiB and 10
    # files. LogRotateSeconds and LogRetentionDays take 0 as Install does (no time rotation, no
    # age limit), so they can be unset ($null): then they are not managed, and an installed
    # service keeps what it has (a new one gets 1 day and 30 days).
    [DscProperty()] [int] $LogRotateBytes
    [DscProperty()] [Nullable[int]] $LogRotateSeconds
    [DscProperty()] [int] $LogRetentionCount
    [DscProperty()] [Nullable[int]] $LogRetentionDays

    # The account (Install-PrefectService -Account): by default the service's own virtual
    # account NT SERVICE\<Name>; LocalSystem, LocalService, NetworkService or a gMSA
    # (DOMAIN\name$). No user account: its password would have to sit in the configuration.
    [DscProperty()] [string] $Account

    # Server only: the inbound rule for the port, from AllowFrom (default LocalSubnet) on the
    # FirewallProfile profiles (default Domain and Private).
    [DscProperty()] [bool] $OpenFirewall
    [DscProperty()] [string[]] $AllowFrom
    [DscProperty()] [string[]] $FirewallProfile

    [DscProperty(NotConfigurable)] [string] $Status
    [DscProperty(NotConfigurable)] [string] $Health

    [PrefectService] Get() {
        return [PrefectService](Invoke-PrefectDscResource -Resource 'PrefectService' -Method 'Get' -Instance $this -ErrorAction Stop)
    }

    [bool] Test() {
        return [bool](Invoke-PrefectDscResource -Resource 'PrefectService' -Method 'Test' -Instance $this -ErrorAction Stop)
    }

    [void] Set() {
        $null = Invoke-PrefectDscResource -Resource 'PrefectService' -Method 'Set' -Instance $this -ErrorAction Stop
    }

    static [PrefectService[]] Export() {
        return [PrefectService[]]@(Invoke-PrefectDscResource -Resource 'PrefectService' -Method 'Export' -ErrorAction Stop)
    }
}

# One Prefect setting in one scope (Set-PrefectSetting / Remove-PrefectSetting), keyed by Name
# AND Scope: one configuration can set the same setting in the profile and in a variable.
#
# Value is written into the MOF in clear text: do not manage secret settings (API keys,
# database URLs with a password) with this resource. Scope is Profile, User or Machine; Process
# means nothing to DSC and is refused.
[DscResource()]
class PrefectSetting {
    [DscProperty(Key)] [string] $Name
    [DscProperty(Key)] [string] $Scope
    [DscProperty()] [PrefectEnsure] $Ensure = [PrefectEnsure]::Present
    [DscProperty()] [string] $Value
    [DscProperty()] [string] $PythonPath
    [DscProperty(NotConfigurable)] [string] $Source

    [PrefectSetting] Get() {
        return [PrefectSetting](Invoke-PrefectDscResource -Resource 'PrefectSetting' -Method 'Get' -Instance $this -ErrorAction Stop)
    }

    [bool] Test() {
        return [bool](Invoke-PrefectDscResource -Resource 'PrefectSetting' -Method 'Test' -Instance $this -ErrorAction Stop)
    }

    [void] Set() {
        $null = Invoke-PrefectDscResource -Resource 'PrefectSetting' -Method 'Set' -Instance $this -ErrorAction Stop
    }

    static [PrefectSetting[]] Export() {
        return [PrefectSetting[]]@(Invoke-PrefectDscResource -Resource 'PrefectSetting' -Method 'Export' -ErrorAction Stop)
    }
}
