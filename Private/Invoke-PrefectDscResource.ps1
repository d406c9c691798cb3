function Invoke-PrefectServiceResource {
    <#
    .SYNOPSIS
    Get, Test, Set and Export of the PrefectService DSC resource (the class in PrefectWin.psm1).

    .DESCRIPTION
    The class methods stay one line each; this function is the whole resource, and thin:
      Get    service.get of Name: a hashtable of the properties as they are (Ensure Absent when
             there is no such PrefectWin service). Nothing secret is ever read back.
      Test   Ensure Present: the plan of service.install (with start, so a stopped service is
             not in the desired state) with whatIf; an empty plan means "in the desired state".
             Ensure Absent: the plan of service.uninstall with whatIf; NotFound means absent.
             Returns exactly one [bool].
      Set    service.install (with start), or service.uninstall (NotFound: nothing to do).
      Export service.get of every PrefectWin service, one hashtable each (DSC v3 export).
    Any other backend error is thrown: DSC reports a method's exception as the resource's
    failure. The backend validates Role, StartupType and the rest, as it does for
    Install-PrefectService.

    .PARAMETER Resource
    The PrefectService instance ($this). Not used by Export.

    .PARAMETER Method
    Get, Test, Set or Export.
    #>
    [CmdletBinding()]
    [OutputType([hashtable], [bool])]
    param(
        [Parameter()]
        [AllowNull()]
        [object] $Resource,

        [Parameter(Mandatory = $true)]
        [ValidateSet('Get', 'Test', 'Set', 'Export')]
        [string] $Method
    )
    if ($Method -eq 'Export') {
        foreach ($info in @((Invoke-PrefectDscCommand -Command 'service.get').Result)) {
            ConvertTo-PrefectServiceState -Info $info
        }
        return
    }
    $name = [string](Get-PrefectField -InputObject $Resource -Name 'Name')
    if ($Method -eq 'Get') {
        $found = @((Invoke-PrefectDscCommand -Command 'service.get' -Parameters @{ name = @($name) } -AllowedError 'NotFound').Result)
        if ($found.Count -eq 0) {
            return @{ Name = $name; Ensure = 'Absent' }
        }
        return (ConvertTo-PrefectServiceState -Info $found[0])
    }
    if ([string](Get-PrefectField -InputObject $Resource -Name 'Ensure') -eq 'Absent') {
        # A service that does not exist is as desired: service.uninstall says NotFound.
        return (Invoke-PrefectDscChange -Label "PrefectService $name" -Method $Method -Command 'service.uninstall' -Parameters @{ name = $name } -AbsentError 'NotFound')
    }
    $parameters = ConvertTo-PrefectServiceParameter -Resource $Resource
    Invoke-PrefectDscChange -Label "PrefectService $name" -Method $Method -Command 'service.install' -Parameters $parameters
}

function Invoke-PrefectSettingResource {
    <#
    .SYNOPSIS
    Get, Test, Set and Export of the PrefectSetting DSC resource (the class in PrefectWin.psm1).

    .DESCRIPTION
      Get    setting.get of Name: the effective value (masked when secret) and its source, as a
             hashtable; Ensure Absent when the setting is at Prefect's default.
      Test   Ensure Present: the plan of setting.set (Name, Value, Scope) with whatIf; Ensure
             Absent: the plan of setting.remove. An empty plan means "in the desired state".
             Returns exactly one [bool].
      Set    setting.set or setting.remove.
      Export setting.get without a name: every setting that is not at its default.
    Scope Process is refused: it would change only the DSC host's own environment.

    .PARAMETER Resource
    The PrefectSetting instance ($this). Not used by Export.

    .PARAMETER Method
    Get, Test, Set or Export.
    #>
    [CmdletBinding()]
    [OutputType([hashtable], [bool])]
    param(
        [Parameter()]
        [AllowNull()]
        [object] $Resource,

        [Parameter(Mandatory = $true)]
        [ValidateSet('Get', 'Test', 'Set', 'Export')]
        [string] $Method
    )
    if ($Method -eq 'Export') {
        foreach ($setting in @((Invoke-PrefectDscCommand -Command 'setting.get').Result)) {
            ConvertTo-PrefectSettingState -Setting $setting
        }
        return
    }
    $name = [string](Get-PrefectField -InputObject $Resource -Name 'Name')
    $scope = [string](Get-PrefectField -InputObject $Resource -Name 'Scope')
    $pythonPath = [string](Get-PrefectField -InputObject $Resource -Name 'PythonPath')
    if ($scope -eq 'Process') {
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'InvalidArgument'
            category = 'InvalidArgument'
            message = "PrefectSetting ${name}: Scope Process would change only the environment of the DSC host process."
            target = 'Scope'
            remediation = 'Use Scope Profile, User or Machine.'
        }
        $PSCmdlet.ThrowTerminatingError($record)
    }
    $parameters = @{ name = $name }
    if ($pythonPath) {
        $parameters['pythonPath'] = $pythonPath
    }
    if ($Method -eq 'Get') {
        $parameters['name'] = @($name)
        $found = @((Invoke-PrefectDscCommand -Command 'setting.get' -Parameters $parameters).Result)
        if ($found.Count -eq 0) {
            return @{ Name = $name; Ensure = 'Absent'; Scope = $scope }
        }
        $state = ConvertTo-PrefectSettingState -Setting $found[0]
        $state['Scope'] = $scope
        return $state
    }
    if ($scope) {
        $parameters['scope'] = $scope
    }
    $command = 'setting.remove'
    if ([string](Get-PrefectField -InputObject $Resource -Name 'Ensure') -ne 'Absent') {
        $command = 'setting.set'
        $parameters['value'] = Get-PrefectField -InputObject $Resource -Name 'Value'
    }
    Invoke-PrefectDscChange -Label "PrefectSetting $name" -Method $Method -Command $command -Parameters $parameters
}

function Invoke-PrefectDscChange {
    <#
    .SYNOPSIS
    Test or Set of a DSC resource: a state-changing command's plan, or the command itself.

    .DESCRIPTION
    Test sends the command with whatIf and returns exactly one [bool]: $true when the plan is
    empty (the desired state). Set sends it without whatIf and returns nothing. Each action is
    written with Write-Verbose. An error whose code is in -AbsentError (NotFound for an
    uninstall) means "nothing there, as desired": Test returns $true, Set does nothing.

    .PARAMETER Label
    What the messages name, for example 'PrefectService PrefectServer'.

    .PARAMETER Method
    Test or Set.

    .PARAMETER Command
    The state-changing backend command.

    .PARAMETER Parameters
    Its parameters with their camelCase wire names.

    .PARAMETER AbsentError
    Error codes that mean "already absent".
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Label,

        [Parameter(Mandatory = $true)]
        [ValidateSet('Test', 'Set')]
        [string] $Method,

        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [AllowEmptyCollection()]
        [string[]] $AbsentError = @()
    )
    $outcome = Invoke-PrefectDscCommand -Command $Command -Parameters $Parameters -PlanOnly:($Method -eq 'Test') -AllowedError $AbsentError
    if ($null -ne $outcome.ErrorCode) {
        Write-Verbose -Message "${Label}: not there, as desired."
        if ($Method -eq 'Test') {
            return $true
        }
        return
    }
    $actions = @(Get-PrefectDscAction -Result $outcome.Result)
    foreach ($description in $actions) {
        Write-Verbose -Message "${Label}: $description"
    }
    if ($Method -eq 'Test') {
        return ($actions.Count -eq 0)
    }
}

function Invoke-PrefectDscCommand {
    <#
    .SYNOPSIS
    Runs one backend command for a DSC resource method, which has no $PSCmdlet of its own.

    .DESCRIPTION
    Invoke-PrefectBackend writes and throws errors through a cmdlet. A class method is not one,
    so it calls this function, which calls the backend through Receive-PrefectDscResult and
    collects that function's errors. Returns one object: Result (the backend's result items)
    and ErrorCode ($null, or the code of an error listed in -AllowedError, such as NotFound,
    which a resource reads as "absent"). Any other error is thrown.

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER PlanOnly
    Sends whatIf: a state-changing command returns its plan and changes nothing.

    .PARAMETER AllowedError
    Error codes (without 'PrefectWin.') that are returned instead of thrown.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [switch] $PlanOnly,

        [Parameter()]
        [AllowEmptyCollection()]
        [string[]] $AllowedError = @()
    )
    $failures = $null
    $result = @(Receive-PrefectDscResult -Command $Command -Parameters $Parameters -PlanOnly:$PlanOnly -ErrorAction SilentlyContinue -ErrorVariable failures)
    foreach ($failure in @($failures | Where-Object { $null -ne $_ })) {
        $code = ([string]$failure.FullyQualifiedErrorId).Split(',')[0] -replace '^PrefectWin\.', ''
        if ($AllowedError -contains $code) {
            Write-Verbose -Message "${Command}: $($failure.Exception.Message)"
            return [PSCustomObject]@{ Result = @(); ErrorCode = $code }
        }
        $PSCmdlet.ThrowTerminatingError($failure)
    }
    [PSCustomObject]@{ Result = $result; ErrorCode = $null }
}

function Receive-PrefectDscResult {
    <#
    .SYNOPSIS
    The cmdlet that a DSC method's backend call goes through (see Invoke-PrefectDscCommand).

    .DESCRIPTION
    Passes its own $PSCmdlet to Invoke-PrefectBackend, so the backend's errors are this
    function's errors, which its caller collects with -ErrorVariable.

    .PARAMETER Command
    The backend command, 'family.verb'.

    .PARAMETER Parameters
    The command's parameters with their camelCase wire names.

    .PARAMETER PlanOnly
    Sends whatIf.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Command,

        [Parameter()]
        [System.Collections.IDictionary] $Parameters = @{},

        [Parameter()]
        [switch] $PlanOnly
    )
    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command $Command -Parameters $Parameters -WhatIf:$PlanOnly
}

function Get-PrefectDscAction {
    <#
    .SYNOPSIS
    The action descriptions of a state-changing command's result (its plan, or what it did).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter()]
        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]] $Result
    )
    foreach ($item in @($Result | Where-Object { $null -ne $_ })) {
        $actions = Get-PrefectField -InputObject $item -Name 'actions'
        foreach ($action in @($actions)) {
            if ($null -eq $action) {
                continue
            }
            $description = [string](Get-PrefectField -InputObject $action -Name 'description')
            if (-not $description) {
                $description = [string](Get-PrefectField -InputObject $action -Name 'kind')
            }
            $description
        }
    }
}

function ConvertTo-PrefectServiceParameter {
    <#
    .SYNOPSIS
    The service.install parameters of a PrefectService resource instance.

    .DESCRIPTION
    Empty properties are left out (the backend's defaults apply; Port 0 means the default),
    and start is always sent: a PrefectService that is Present is installed AND running.
    The database URL comes from DatabaseUrl (which must not hold a password: a MOF keeps it
    in clear text) with DatabaseCredential, or from the machine environment variable that
    DatabaseUrlVariable names; never both.

    .PARAMETER Resource
    The PrefectService instance.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Resource
    )
    $name = [string](Get-PrefectField -InputObject $Resource -Name 'Name')
    $parameters = @{ name = $name; start = $true }
    $wireNames = [ordered]@{
        Role = 'role'
        BindAddress = 'bindAddress'
        PrefectHome = 'prefectHome'
        PythonPath = 'pythonPath'
        Pool = 'pool'
        WorkerType = 'workerType'
        ApiUrl = 'apiUrl'
        StartupType = 'startupType'
    }
    foreach ($property in $wireNames.Keys) {
        $value = [string](Get-PrefectField -InputObject $Resource -Name $property)
        if ($value) {
            $parameters[$wireNames[$property]] = $value
        }
    }
    $port = Get-PrefectField -InputObject $Resource -Name 'Port'
    if ($null -ne $port -and [int]$port -gt 0) {
        $parameters['port'] = [int]$port
    }
    # Assigned first: Get-PrefectField returns a list as ONE object, which '@(...)' would nest.
    $dependencies = Get-PrefectField -InputObject $Resource -Name 'ServiceDependency'
    $dependencies = @($dependencies | Where-Object { $_ })
    if ($dependencies.Count -gt 0) {
        $parameters['dependsOn'] = [string[]]$dependencies
    }

    $url = [string](Get-PrefectField -InputObject $Resource -Name 'DatabaseUrl')
    $variable = [string](Get-PrefectField -InputObject $Resource -Name 'DatabaseUrlVariable')
    $problem = $null
    if ($url -and $variable) {
        $problem = 'DatabaseUrl and DatabaseUrlVariable are both set; give one of them.'
    } elseif ($url -match '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@') {
        $problem = 'DatabaseUrl holds a password, which a MOF would keep in clear text. Give the password in DatabaseCredential, or the whole URL in a machine environment variable named by DatabaseUrlVariable.'
    } elseif ($variable) {
        $url = [System.Environment]::GetEnvironmentVariable($variable, [System.EnvironmentVariableTarget]::Machine)
        if (-not $url) {
            $problem = "DatabaseUrlVariable names the machine environment variable '$variable', which is not set on this computer."
        }
    }
    if ($null -ne $problem) {
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'InvalidArgument'
            category = 'InvalidArgument'
            message = "PrefectService ${name}: $problem"
            target = 'DatabaseUrl'
            remediation = 'See about_PrefectWin, DSC, for the two ways to give the database secret.'
        }
        $PSCmdlet.ThrowTerminatingError($record)
    }
    if ($url) {
        $parameters['databaseUrl'] = $url
    }
    $credential = Get-PrefectField -InputObject $Resource -Name 'DatabaseCredential'
    if ($null -ne $credential) {
        $parameters['databaseCredential'] = $credential
    }
    $parameters
}

function ConvertTo-PrefectServiceState {
    <#
    .SYNOPSIS
    A PrefectService resource's properties, as a hashtable, from one service.get ServiceInfo.

    .DESCRIPTION
    Only what service.get reads back: BindAddress, WorkerType, PythonPath, ServiceDependency and
    the database properties stay empty (Test decides by the install plan, not by comparing
    these).
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Info
    )
    $port = Get-PrefectField -InputObject $Info -Name 'port'
    if ($null -eq $port) {
        $port = 0
    }
    @{
        Name = [string](Get-PrefectField -InputObject $Info -Name 'name')
        Ensure = 'Present'
        Role = [string](Get-PrefectField -InputObject $Info -Name 'role')
        Port = [int]$port
        PrefectHome = [string](Get-PrefectField -InputObject $Info -Name 'prefectHome')
        Pool = [string](Get-PrefectField -InputObject $Info -Name 'pool')
        ApiUrl = [string](Get-PrefectField -InputObject $Info -Name 'apiUrl')
        StartupType = [string](Get-PrefectField -InputObject $Info -Name 'startType')
        Status = [string](Get-PrefectField -InputObject $Info -Name 'status')
        Health = [string](Get-PrefectField -InputObject $Info -Name 'health')
    }
}

function ConvertTo-PrefectSettingState {
    <#
    .SYNOPSIS
    A PrefectSetting resource's properties, as a hashtable, from one setting.get Setting.

    .DESCRIPTION
    Value is the effective value as text (masked when the setting is secret); Ensure is Absent
    when the value is Prefect's default; Scope is Profile when a profile supplied it, and
    empty otherwise (an environment variable does not say whether it is a User or a Machine one).
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Setting
    )
    $source = [string](Get-PrefectField -InputObject $Setting -Name 'source')
    $value = Get-PrefectField -InputObject $Setting -Name 'value'
    if ($null -ne $value -and $value -isnot [string]) {
        $value = ConvertTo-Json -InputObject $value -Depth 10 -Compress
    }
    $ensure = 'Present'
    if ($source -eq 'default') {
        $ensure = 'Absent'
    }
    $scope = $null
    if ($source -like 'profile:*') {
        $scope = 'Profile'
    }
    @{
        Name = [string](Get-PrefectField -InputObject $Setting -Name 'name')
        Ensure = $ensure
        Scope = $scope
        Value = $value
        Source = $source
    }
}
