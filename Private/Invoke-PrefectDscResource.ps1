function Invoke-PrefectDscResource {
    <#
    .SYNOPSIS
    One method of a PrefectWin DSC resource class: the backend's dsc.get, dsc.test, dsc.set or
    dsc.export, mapped onto what the class method returns.

    .DESCRIPTION
    The classes in PrefectWin.psm1 call this and nothing else. Every rule about the properties
    (their names, validation, a database URL's password, the machine variable that
    DatabaseUrlVariable names) is the backend's (prefectwin/dsc): the instance's [DscProperty()]
    values are sent as they are. Get and Export write one hashtable of properties per instance,
    which the class converts to itself (property names match without regard to case); Test
    writes one [bool]; Set writes nothing. The backend relays each planned or applied action
    as a verbose event. A class method is no cmdlet, so it calls this with -ErrorAction Stop: a
    backend error then ends the method, and DSC reports it as the resource's failure.

    .PARAMETER Resource
    PrefectService or PrefectSetting.

    .PARAMETER Method
    Get, Test, Set or Export.

    .PARAMETER Instance
    The class instance ($this). Not used by Export.
    #>
    [CmdletBinding()]
    [OutputType([hashtable], [bool])]
    param(
        [Parameter(Mandatory = $true)] [ValidateSet('PrefectService', 'PrefectSetting')] [string] $Resource,
        [Parameter(Mandatory = $true)] [ValidateSet('Get', 'Test', 'Set', 'Export')] [string] $Method,
        [Parameter()] [AllowNull()] [object] $Instance
    )
    $properties = @{}
    if ($null -ne $Instance) {
        foreach ($property in $Instance.GetType().GetProperties()) {
            if ($property.IsDefined([System.Management.Automation.DscPropertyAttribute], $true)) {
                $properties[$property.Name] = $property.GetValue($Instance)
            }
        }
    }
    $parameters = @{ resource = $Resource; properties = $properties }
    foreach ($answer in @(Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command ('dsc.' + $Method.ToLowerInvariant()) -Parameters $parameters)) {
        if ($Method -eq 'Test') {
            return [bool](Get-PrefectField -InputObject $answer -Name 'inDesiredState')
        }
        if ($Method -ne 'Set') {
            $state = @{}
            foreach ($field in (Get-PrefectField -InputObject $answer -Name 'properties').PSObject.Properties) {
                $state[$field.Name] = $field.Value
            }
            $state
        }
    }
}
