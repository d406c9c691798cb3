# The backend interpreter, once found; Resolve-PrefectPython -Force looks again.
$script:PrefectWinBackendPython = $null

function Resolve-PrefectPython {
    <#
    .SYNOPSIS
    Finds the Python interpreter that runs the PrefectWin backend.

    .DESCRIPTION
    Returns an object with Path (the interpreter) and PrefixArgs (arguments that go before
    '-X utf8 -m prefectwin rpc'), from the first of these that exists:
      1. $env:PREFECTWIN_PYTHON
      2. the pythonPath key of %ProgramData%\PrefectWin\config.json
      3. the virtual environment '.venv' in the module folder (what './build.ps1 Install'
         creates in a clone; create one next to a built or installed module the same way)
      4. the 'py' launcher, as 'py -3'
      5. 'python' (or 'python3') on PATH, except the Microsoft Store stub in WindowsApps and
         except an interpreter under $env:VIRTUAL_ENV: an active venv is never picked implicitly.
    This is the BACKEND interpreter. The interpreter Prefect runs under (the target) is the
    cmdlets' -PythonPath parameter, which the backend receives as the pythonPath parameter.
    Nothing is started here; the result is cached for the session.

    .PARAMETER Cmdlet
    The public cmdlet to report a missing interpreter for; by default this function.

    .PARAMETER Force
    Look again instead of using the cached result.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter()]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [Parameter()]
        [switch] $Force
    )
    if ($null -ne $script:PrefectWinBackendPython -and -not $Force) {
        return $script:PrefectWinBackendPython
    }
    if ($null -eq $Cmdlet) {
        $Cmdlet = $PSCmdlet
    }
    $found = $null

    $fromEnvironment = [System.Environment]::GetEnvironmentVariable('PREFECTWIN_PYTHON')
    if ($fromEnvironment) {
        if (Test-Path -LiteralPath $fromEnvironment -PathType Leaf) {
            $found = New-PrefectPythonCommand -Path $fromEnvironment -Source 'PREFECTWIN_PYTHON'
        } else {
            Write-Warning -Message "PREFECTWIN_PYTHON is '$fromEnvironment', which does not exist; looking elsewhere."
        }
    }

    if ($null -eq $found) {
        $found = Get-PrefectConfiguredPython
    }

    if ($null -eq $found) {
        # The module's folder (PrefectWin.psm1 sets it): this file's own $PSScriptRoot would
        # be Private/ here and the module folder once './build.ps1 Build' has inlined it.
        $venvPythons = @(
            [System.IO.Path]::Combine($script:PrefectWinModuleRoot, '.venv', 'Scripts', 'python.exe'),
            [System.IO.Path]::Combine($script:PrefectWinModuleRoot, '.venv', 'bin', 'python')
        )
        foreach ($venvPython in $venvPythons) {
            if (Test-Path -LiteralPath $venvPython -PathType Leaf) {
                $found = New-PrefectPythonCommand -Path $venvPython -Source 'module venv'
                break
            }
        }
    }

    if ($null -eq $found) {
        $launcher = @(Get-Command -Name 'py' -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
        if ($null -ne $launcher) {
            $found = New-PrefectPythonCommand -Path ([string]$launcher.Path) -PrefixArgs @('-3') -Source 'py launcher'
        }
    }

    if ($null -eq $found) {
        $found = Get-PrefectPathPython
    }

    if ($null -eq $found) {
        $record = New-PrefectErrorRecord -ErrorObject @{
            code = 'NotInstalled'
            category = 'NotInstalled'
            message = 'No Python interpreter for the PrefectWin backend was found.'
            target = 'PREFECTWIN_PYTHON'
            remediation = "Run './build.ps1 Install' in the PrefectWin folder, or set PREFECTWIN_PYTHON to a python.exe that has the prefectwin package installed."
        }
        $Cmdlet.ThrowTerminatingError($record)
    }
    Write-Verbose -Message ("PrefectWin backend interpreter: {0} (from {1})" -f $found.Path, $found.Source)
    $script:PrefectWinBackendPython = $found
    $found
}

function New-PrefectPythonCommand {
    <#
    .SYNOPSIS
    The object Resolve-PrefectPython returns: Path, PrefixArgs and Source.
    #>
    [Diagnostics.CodeAnalysis.SuppressMessageAttribute('PSUseShouldProcessForStateChangingFunctions', '', Justification = 'Creates an object in memory; changes no system state.')]
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Path,

        [Parameter()]
        [string[]] $PrefixArgs = @(),

        [Parameter(Mandatory = $true)]
        [string] $Source
    )
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.PythonCommand'
        Path = $Path
        PrefixArgs = [string[]]$PrefixArgs
        Source = $Source
    }
}

function Get-PrefectConfiguredPython {
    <#
    .SYNOPSIS
    The pythonPath of %ProgramData%\PrefectWin\config.json, when that file names one that exists.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param()
    $programData = [System.Environment]::GetEnvironmentVariable('ProgramData')
    if (-not $programData) {
        return $null
    }
    $configPath = [System.IO.Path]::Combine($programData, 'PrefectWin', 'config.json')
    if (-not (Test-Path -LiteralPath $configPath -PathType Leaf)) {
        return $null
    }
    try {
        $config = Get-Content -LiteralPath $configPath -Raw -Encoding UTF8 -ErrorAction Stop | ConvertFrom-Json -ErrorAction Stop
    } catch {
        Write-Warning -Message "Ignoring $configPath, which could not be read: $($_.Exception.Message)"
        return $null
    }
    $configured = [string](Get-PrefectField -InputObject $config -Name 'pythonPath')
    if (-not $configured) {
        return $null
    }
    if (-not (Test-Path -LiteralPath $configured -PathType Leaf)) {
        Write-Warning -Message "$configPath names the interpreter '$configured', which does not exist; looking elsewhere."
        return $null
    }
    New-PrefectPythonCommand -Path $configured -Source $configPath
}

function Get-PrefectPathPython {
    <#
    .SYNOPSIS
    The first python on PATH that is neither the Store stub nor inside the active venv.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSCustomObject])]
    param()
    $virtualEnv = [System.Environment]::GetEnvironmentVariable('VIRTUAL_ENV')
    $venvPrefix = $null
    if ($virtualEnv) {
        $venvPrefix = ($virtualEnv -replace '\\', '/').TrimEnd('/') + '/'
    }
    foreach ($name in @('python', 'python3')) {
        foreach ($command in @(Get-Command -Name $name -CommandType Application -All -ErrorAction SilentlyContinue)) {
            $path = [string]$command.Path
            if ($path -match '[\\/]WindowsApps[\\/]') {
                Write-Verbose -Message "Skipping ${path}: the Microsoft Store stub, not an installed Python."
                continue
            }
            if ($venvPrefix -and ($path -replace '\\', '/').StartsWith($venvPrefix, [System.StringComparison]::OrdinalIgnoreCase)) {
                Write-Verbose -Message "Skipping ${path}: it belongs to the active virtual environment $virtualEnv."
                continue
            }
            return New-PrefectPythonCommand -Path $path -Source 'PATH'
        }
    }
    $null
}
