# The rules of a PrefectWin fleet's ConfigurationData: ConvertTo-PrefectFleetData, for
# examples/Fleet.ps1, examples/ServerAndWorker.ps1 and their tests. Dot-source this file. It
# holds no DSC keyword, so it loads where PSDesiredStateConfiguration is missing too (PowerShell
# parses a Configuration only where DSC's schema store exists), which is how
# tests/Fleet.Tests.ps1 runs the same rules on Linux.

function ConvertTo-PrefectFleetData {
    <#
    .SYNOPSIS
    Checks a fleet's ConfigurationData and returns the one the configuration PrefectFleet
    compiles: every node with the values of its role worked out.

    .DESCRIPTION
    The input is DSC ConfigurationData: AllNodes, one hashtable per node with NodeName and Role
    (Server, Worker, or Both for a server and a worker on one node), and NonNodeData.PrefectFleet
    for what the nodes share. A node's own key wins over PrefectFleet's. Keys:

      PythonPath       the python.exe of the node's venv (required): the venv that
                       Install-PrefectStack -Role ... or the node's image made
      Address          server node: the name or address the workers reach it at (default NodeName)
      CertificateFile  the node's public certificate (.cer) and Thumbprint its thumbprint:
      Thumbprint       required on every node whose MOF holds a credential (all of them with
                       -AuthCredential, the server with -DatabaseCredential), which DSC
                       encrypts with it
      Port, BindAddress, PrefectHome, Pool, WorkerType, Account, ServerName, WorkerName,
      AllowFrom, FirewallProfile, DatabaseUrl (without password), DatabaseUrlVariable,
      AuthStringVariable   as the PrefectService properties of the same names

    The server listens on BindAddress (default 0.0.0.0) with auth, so either -AuthCredential or
    AuthStringVariable is required, never neither and never both. With workers on other nodes
    the server opens an inbound rule for its port, scoped to AllowFrom or, without it, to the
    workers' Address values (a rule takes addresses, not host names). Every refusal is a
    terminating error that names the node and key and says what to do; no secret is quoted.
    The credentials go into the returned node data (each node's Services), which DSC encrypts
    in that node's MOF with its certificate; the input data holds none.

    .PARAMETER ConfigurationData
    The fleet's ConfigurationData, as a hashtable (Import-PowerShellDataFile of a .psd1).

    .PARAMETER AuthCredential
    Prefect's basic auth that the server requires and the workers send, when it is not taken
    from the machine variable AuthStringVariable names.

    .PARAMETER DatabaseCredential
    The server's database user and password, for DatabaseUrl.

    .EXAMPLE
    . .\examples\FleetData.ps1
    $data = ConvertTo-PrefectFleetData -ConfigurationData (Import-PowerShellDataFile -Path .\examples\Fleet.psd1) -AuthCredential (Get-Credential admin)
    $data.AllNodes | Format-Table -Property NodeName, Role, ApiUrl

    Shows which node gets which role and the API URL each one uses.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [hashtable] $ConfigurationData,

        [Parameter()]
        [System.Management.Automation.PSCredential] $AuthCredential,

        [Parameter()]
        [System.Management.Automation.PSCredential] $DatabaseCredential
    )

    $shared = @{}
    if ($ConfigurationData['NonNodeData'] -is [hashtable] -and $ConfigurationData['NonNodeData']['PrefectFleet'] -is [hashtable]) {
        $shared = $ConfigurationData['NonNodeData']['PrefectFleet']
    }
    $nodes = @($ConfigurationData['AllNodes'] | Where-Object -FilterScript { $null -ne $_ })
    if ($nodes.Count -eq 0) {
        throw 'ConfigurationData.AllNodes holds no node. Give one hashtable per node, each with NodeName and Role.'
    }
    foreach ($holder in @($nodes) + @($shared)) {
        foreach ($key in @($holder.Keys)) {
            if ($key -like '*PlainTextPassword*') {
                throw "ConfigurationData sets $key. A MOF compiled with it keeps every password readable; give each node CertificateFile and Thumbprint instead."
            }
        }
    }

    function Get-FleetValue {
        # The node's own value, else the fleet's, else the default.
        param([hashtable] $Node, [string] $Key, [object] $Default)
        if ($Node.ContainsKey($Key) -and $null -ne $Node[$Key] -and '' -ne $Node[$Key]) {
            return $Node[$Key]
        }
        if ($shared.ContainsKey($Key) -and $null -ne $shared[$Key] -and '' -ne $shared[$Key]) {
            return $shared[$Key]
        }
        $Default
    }

    $byRole = @{ Server = @(); Worker = @(); Both = @() }
    foreach ($node in $nodes) {
        if ($node -isnot [hashtable] -or [string]::IsNullOrEmpty([string]$node['NodeName'])) {
            throw 'Every entry of ConfigurationData.AllNodes must be a hashtable with a NodeName.'
        }
        $role = [string]$node['Role']
        if (@('Server', 'Worker', 'Both') -notcontains $role) {
            throw "Node $($node['NodeName']): Role is '$role'. Give Role = 'Server', 'Worker' or 'Both' (a server and a worker on one node)."
        }
        if ([string]::IsNullOrEmpty([string](Get-FleetValue -Node $node -Key 'PythonPath'))) {
            throw "Node $($node['NodeName']): no PythonPath. Give the python.exe of the venv that Install-PrefectStack -Role $role (or the node's image) made there."
        }
        $byRole[$role] += $node
    }
    $servers = @($byRole['Server']) + @($byRole['Both'])
    if ($servers.Count -ne 1) {
        $names = @($servers | ForEach-Object -Process { $_['NodeName'] }) -join ', '
        if ($servers.Count -eq 0) {
            throw 'No node has Role Server (or Both): the workers would have no server to point at. Give exactly one node Role = ''Server''.'
        }
        throw "More than one node is a server ($names). A fleet has one server; give the others Role = 'Worker'."
    }
    $server = $servers[0]
    $remoteWorkers = @($byRole['Worker'])

    $authVariable = [string](Get-FleetValue -Node $server -Key 'AuthStringVariable')
    if ($null -ne $AuthCredential -and $authVariable) {
        throw 'Both -AuthCredential and AuthStringVariable are given. Give one: the credential (encrypted with each node''s certificate) or the name of the machine variable.'
    }
    if ($null -eq $AuthCredential -and -not $authVariable) {
        throw 'The server listens on the network, so it needs basic auth: give -AuthCredential, or NonNodeData.PrefectFleet.AuthStringVariable, the name of a machine variable holding USER:PASSWORD on every node.'
    }
    $databaseUrl = [string](Get-FleetValue -Node $server -Key 'DatabaseUrl')
    $databaseVariable = [string](Get-FleetValue -Node $server -Key 'DatabaseUrlVariable')
    if ($databaseUrl -and $databaseVariable) {
        throw 'Both DatabaseUrl and DatabaseUrlVariable are given. Give one of them.'
    }
    if ($databaseUrl -match '^[^:/]+://[^/@]*:[^/@]*@') {
        throw 'DatabaseUrl holds a password, which the MOF would keep in clear text. Give the URL without it and the password in -DatabaseCredential, or use DatabaseUrlVariable.'
    }
    if ($null -ne $DatabaseCredential -and -not $databaseUrl) {
        throw '-DatabaseCredential is given but no DatabaseUrl. Give DatabaseUrl, the URL without its password, in NonNodeData.PrefectFleet.'
    }
    # The nodes whose MOF holds a credential: all of them for the auth, the server for the database.
    $encrypted = @()
    if ($null -ne $AuthCredential) {
        $encrypted = $nodes
    } elseif ($null -ne $DatabaseCredential) {
        $encrypted = @($server)
    }
    foreach ($node in $encrypted) {
        foreach ($key in @('CertificateFile', 'Thumbprint')) {
            if ([string]::IsNullOrEmpty([string]$node[$key])) {
                throw "Node $($node['NodeName']): no $key. DSC encrypts a credential with the node's certificate: give CertificateFile (its .cer) and Thumbprint, or use AuthStringVariable and DatabaseUrlVariable instead of credentials."
            }
        }
    }

    $port = [int](Get-FleetValue -Node $server -Key 'Port' -Default 4200)
    $address = [string](Get-FleetValue -Node $server -Key 'Address' -Default $server['NodeName'])
    if ($address.Contains(':')) {
        $address = '[' + $address + ']'
    }
    $fleetApiUrl = 'http://{0}:{1}/api' -f $address, $port
    $localApiUrl = 'http://127.0.0.1:{0}/api' -f $port
    $allowFrom = @(Get-FleetValue -Node $server -Key 'AllowFrom')
    if ($remoteWorkers.Count -gt 0 -and @($allowFrom | Where-Object -FilterScript { $_ }).Count -eq 0) {
        $allowFrom = @(foreach ($worker in $remoteWorkers) {
            if ([string]::IsNullOrEmpty([string]$worker['Address'])) {
                throw "Node $($worker['NodeName']): no Address, and the fleet has no AllowFrom. The server's firewall rule admits addresses, not names: give AllowFrom (the workers' subnet) in NonNodeData.PrefectFleet, or each worker's Address."
            }
            $worker['Address']
        })
    }

    # What the server and the worker share; $null, not '', for what is not used: DSC writes
    # NULL to the MOF, and the LCM sets nothing.
    $auth = @{ AuthCredential = $AuthCredential; AuthStringVariable = $(if ($authVariable) { $authVariable }) }
    $resolved = foreach ($node in $nodes) {
        $role = [string]$node['Role']
        $hasServer = $role -ne 'Worker'
        $services = @()
        if ($hasServer) {
            $openFirewall = $remoteWorkers.Count -gt 0
            $services += $auth + @{
                Id = 'Server'
                Name = Get-FleetValue -Node $server -Key 'ServerName' -Default 'PrefectServer'
                Role = 'Server'
                Port = $port
                BindAddress = Get-FleetValue -Node $server -Key 'BindAddress' -Default '0.0.0.0'
                DatabaseUrl = $(if ($databaseUrl) { $databaseUrl })
                DatabaseCredential = $DatabaseCredential
                DatabaseUrlVariable = $(if ($databaseVariable) { $databaseVariable })
                OpenFirewall = $openFirewall
                # Only with the rule: the backend refuses a scope for a rule it does not make.
                AllowFrom = [string[]]@(if ($openFirewall) { $allowFrom | Where-Object -FilterScript { $_ } })
                FirewallProfile = [string[]]@(if ($openFirewall) { Get-FleetValue -Node $server -Key 'FirewallProfile' -Default @('Domain', 'Private') })
                DependsOn = [string[]]@()
            }
        }
        if ($role -ne 'Server') {
            $services += $auth + @{
                Id = 'Worker'
                Name = Get-FleetValue -Node $node -Key 'WorkerName' -Default 'PrefectWorker'
                Role = 'Worker'
                Pool = Get-FleetValue -Node $node -Key 'Pool' -Default 'windows'
                WorkerType = Get-FleetValue -Node $node -Key 'WorkerType' -Default 'process'
                ApiUrl = $(if ($hasServer) { $localApiUrl } else { $fleetApiUrl })
                # A worker next to its server starts after it; one on another node cannot depend
                # on it in DSC, and its install fails until the server answers (the LCM retries).
                DependsOn = [string[]]@(if ($hasServer) { '[PrefectService]Server' })
            }
        }
        $data = @{
            NodeName = $node['NodeName']
            Role = $role
            Services = $services
            PythonPath = Get-FleetValue -Node $node -Key 'PythonPath'
            PrefectHome = Get-FleetValue -Node $node -Key 'PrefectHome' -Default 'C:\ProgramData\Prefect'
            Account = Get-FleetValue -Node $node -Key 'Account'
            ApiUrl = $(if ($hasServer) { $localApiUrl } else { $fleetApiUrl })
            SettingDependsOn = [string[]]@('[PrefectService]' + $services[0].Id)
        }
        foreach ($key in @('CertificateFile', 'Thumbprint')) {
            if ($node.ContainsKey($key)) {
                $data[$key] = $node[$key]
            }
        }
        $data
    }
    @{ AllNodes = @($resolved); NonNodeData = $ConfigurationData['NonNodeData'] }
}
