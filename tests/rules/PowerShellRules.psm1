<#
    Rules over PrefectWin's PowerShell that real PowerShell 7 does not apply by itself.

    PowerShell 7's own parser, Get-Command, Get-Help and Test-ModuleManifest judge syntax, help,
    parameters and the manifest for real (tests/Module.Tests.ps1). What PowerShell 7 on Linux
    cannot tell is whether Windows PowerShell 5.1 would run the same code, and the house rules
    that PSScriptAnalyzer would enforce on Windows. Each rule here is a function over one parsed
    source (Read-RuleSource) that returns violations (Rule, Location 'file:line', Message), so
    tests/Compat51.Tests.ps1 and tests/HouseStyle.Tests.ps1 run it over the repository AND feed
    it a seeded violation that it must catch and a clean snippet that it must pass.

    Windows PowerShell 5.1 compatibility:
      Find-Ps51SyntaxViolation      7-only syntax that PowerShell 7 parses (ternary, chains, ??,
                                    ?., clean {}, &-jobs, generic method calls, 'a'..'z', ...)
      Find-Ps51VariableViolation    $IsWindows and friends without a guard, 7-only preferences
      Find-Ps51CommandViolation     commands and parameters that 5.1 lacks, by the 5.1 command
                                    table in WindowsPowerShell51Commands.psd1; -Encoding values
      Find-NetFrameworkViolation    types and members missing from .NET Framework 4.5, judged
                                    against its reference assemblies (Initialize-NetFrameworkReference)
      Find-Ps51DotNetTrapViolation  instance calls whose overload is .NET Core-only or binds
                                    differently on .NET Framework (Split('ab'), Kill($true), ...)
    House rules:
      Find-AsciiViolation, Find-LayoutViolation, Find-WriteHostViolation, Find-AliasViolation,
      Find-ProcessStartViolation, Find-StringVariableViolation, Find-ParameterShadowingViolation,
      Find-PSScriptRootViolation, Find-FileFunctionViolation
    DSC (tests/DscShape.Tests.ps1):
      Find-DscResourceViolation       the resource classes, beyond the parser's own DSC
                                      checks: [DscResource()] on each, typed [DscProperty()]s,
                                      no reserved or clear-text secret names, static Export()
      Find-DscConfigurationViolation  a configuration's resource blocks set only real
                                      properties; no plain-text passwords
#>
#Requires -Version 7.2
# Test tooling, PowerShell 7 only (MetadataLoadContext); the module it judges stays 5.1-compatible.
Set-StrictMode -Version 3.0

$script:LanguageNamespace = 'System.Management.Automation.Language'
$script:Ps51Commands = $null
$script:NetFramework = $null
$script:CommandCache = @{}

# Built-in aliases that show up in scripts: Get-Alias of Windows PowerShell 5.1 (PowerShell 7 on
# Linux drops some of them, ls and cat among others, so Get-Alias here is not enough).
$script:WindowsAliases = @(
    '?', '%', 'ac', 'asnp', 'cat', 'cd', 'chdir', 'clc', 'clear', 'clhy', 'cli', 'clp', 'cls', 'clv', 'cnsn',
    'compare', 'copy', 'cp', 'cpi', 'cpp', 'curl', 'cvpa', 'dbp', 'del', 'diff', 'dir', 'dnsn', 'ebp', 'echo',
    'epal', 'epcsv', 'epsn', 'erase', 'etsn', 'exsn', 'fc', 'fhx', 'fl', 'foreach', 'ft', 'fw', 'gal', 'gbp',
    'gc', 'gcb', 'gci', 'gcm', 'gcs', 'gdr', 'ghy', 'gi', 'gin', 'gjb', 'gl', 'gm', 'gmo', 'gp', 'gps', 'gpv',
    'group', 'gsn', 'gsnp', 'gsv', 'gtz', 'gu', 'gv', 'gwmi', 'h', 'history', 'icm', 'iex', 'ihy', 'ii',
    'ipal', 'ipcsv', 'ipmo', 'ipsn', 'irm', 'ise', 'iwmi', 'iwr', 'kill', 'lp', 'ls', 'man', 'md', 'measure',
    'mi', 'mount', 'move', 'mp', 'mv', 'nal', 'ndr', 'ni', 'nmo', 'npssc', 'nsn', 'nv', 'ogv', 'oh', 'popd',
    'ps', 'pushd', 'pwd', 'r', 'rbp', 'rcjb', 'rcsn', 'rd', 'rdr', 'ren', 'ri', 'rjb', 'rm', 'rmdir', 'rmo',
    'rni', 'rnp', 'rp', 'rsn', 'rsnp', 'rujb', 'rv', 'rvpa', 'rwmi', 'sajb', 'sal', 'saps', 'sasv', 'sbp',
    'sc', 'scb', 'select', 'set', 'shcm', 'si', 'sl', 'sleep', 'sls', 'sort', 'sp', 'spjb', 'spps', 'spsv',
    'start', 'stz', 'sujb', 'sv', 'swmi', 'tee', 'trcm', 'type', 'wget', 'where', 'wjb', 'write'
)

# Commands that start a process or run arbitrary code: only the bridge may.
$script:ProcessCommands = @(
    'Start-Process', 'Start-Job', 'Start-ThreadJob', 'Invoke-Expression', 'Invoke-Item', 'Invoke-Command',
    'Invoke-CimMethod', 'Invoke-WmiMethod', 'Start-Transcript'
)
$script:ProcessTypePattern = '(?i)(^|[\s\[.''"])(system\.)?diagnostics\.process(startinfo)?\b|\bprocessstartinfo\b|wscript\.shell|shell\.application'

# The modules whose commands PowerShell 7 ships as successors of 5.1's: a command of theirs
# that 5.1's table lacks is new in 6 or 7.
$script:CoreModulePattern = '^(Microsoft\.PowerShell\..+|CimCmdlets|Microsoft\.WSMan\.Management|ThreadJob|PSDiagnostics)$'

# FileSystemCmdletProviderEncoding, the type of -Encoding in 5.1 (Out-File's ValidateSet is a
# subset). 'utf8NoBOM', 'utf8BOM', 'ansi' and code page numbers are PowerShell 6+.
$script:Ps51Encodings = @('Unknown', 'String', 'Unicode', 'Byte', 'BigEndianUnicode', 'BigEndianUTF32', 'UTF8', 'UTF7', 'UTF32', 'Ascii', 'Default', 'Oem')

# Attributes that 5.1's System.Management.Automation does not have.
$script:Ps7Attributes = @('ValidateNotNullOrWhiteSpace', 'ArgumentCompletions', 'Experimental', 'NoRunspaceAffinity')

# Automatic and preference variables that 5.1 does not set or read.
$script:Ps7Variables = @('PSStyle', 'PSNativeCommandArgumentPassing', 'PSNativeCommandUseErrorActionPreference', 'EnabledExperimentalFeatures')
$script:PlatformVariables = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR')

# Members PowerShell itself gives every object, and so no .NET type lists.
$script:IntrinsicMembers = @('Count', 'Length', 'ForEach', 'Where', 'PSObject', 'PSTypeNames', 'PSBase', 'PSAdapted', 'PSExtended')

function New-RuleViolation {
    [CmdletBinding()]
    [OutputType('PrefectWin.RuleViolation')]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Rule,

        [Parameter(Mandatory = $true)]
        [object] $Source,

        [Parameter()]
        [int] $Line = 1,

        [Parameter(Mandatory = $true)]
        [string] $Message
    )
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.RuleViolation'
        Rule = $Rule
        Location = '{0}:{1}' -f $Source.Label, $Line
        Message = $Message
    }
}

function Read-RuleSource {
    <#
    .SYNOPSIS
    Parses a file (-Path) or a snippet (-Text) with PowerShell's own parser, for the rules.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    [OutputType('PrefectWin.RuleSource')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Path')]
        [string] $Path,

        [Parameter(Mandatory = $true, ParameterSetName = 'Text')]
        [AllowEmptyString()]
        [string] $Text,

        [Parameter()]
        [string] $Label
    )
    $tokens = $null
    $errors = $null
    if ($PSCmdlet.ParameterSetName -eq 'Path') {
        $full = (Resolve-Path -LiteralPath $Path).ProviderPath
        $bytes = [System.IO.File]::ReadAllBytes($full)
        $Text = [System.Text.Encoding]::UTF8.GetString($bytes)
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($full, [ref]$tokens, [ref]$errors)
        if (-not $Label) {
            $Label = Split-Path -Path $full -Leaf
        }
    } else {
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Text)
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
        if (-not $Label) {
            $Label = '<snippet>'
        }
    }
    [PSCustomObject]@{
        PSTypeName = 'PrefectWin.RuleSource'
        Label = $Label
        Text = $Text
        Bytes = $bytes
        Lines = @($Text -split '\r?\n')
        Ast = $ast
        Tokens = @($tokens)
        Errors = @($errors)
    }
}

function Find-RuleAst {
    # Every node of the source (or of -Root) for which the predicate holds, nested script blocks included.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.Language.Ast] $Root,

        [Parameter(Mandatory = $true)]
        [scriptblock] $Predicate
    )
    $found = $Root.FindAll($Predicate, $true)
    if ($null -ne $found) {
        @($found)
    }
}

function Test-AstType {
    [CmdletBinding()]
    [OutputType([bool])]
    param([object] $Node, [string] $TypeName)
    $null -ne $Node -and $Node.GetType().FullName -eq ('{0}.{1}' -f $script:LanguageNamespace, $TypeName)
}

# --------------------------------------------------------------------------------------------
# Windows PowerShell 5.1: syntax
# --------------------------------------------------------------------------------------------
function Find-Ps51SyntaxViolation {
    <#
    .SYNOPSIS
    Syntax that PowerShell 7 parses and Windows PowerShell 5.1 rejects or reads differently.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $rule = 'ps51-syntax'
    foreach ($node in (Find-RuleAst -Root $Source.Ast -Predicate { $true })) {
        $line = $node.Extent.StartLineNumber
        $kind = $node.GetType().Name
        switch ($kind) {
            'TernaryExpressionAst' {
                New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'a ? b : c' needs PowerShell 7; write if/else"
            }
            'PipelineChainAst' {
                New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'&&'/'||' pipeline chains need PowerShell 7; test `$? or use if"
            }
            'BinaryExpressionAst' {
                $operator = $node.Operator.ToString()
                if ($operator -eq 'QuestionQuestion') {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'??' needs PowerShell 7; write if (`$null -eq ...)"
                } elseif ($operator -eq 'DotDot' -and (Test-CharacterRangeOperand -Node $node.Left) -and (Test-CharacterRangeOperand -Node $node.Right)) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'a'..'z' character ranges need PowerShell 6; 5.1 casts both ends to int and fails"
                } elseif ($operator -in @('Ireplace', 'Creplace', 'Replace') -and (Test-AstType -Node $node.Right -TypeName 'ArrayLiteralAst') -and
                    @($node.Right.Elements).Count -eq 2 -and (Test-AstType -Node $node.Right.Elements[1] -TypeName 'ScriptBlockExpressionAst')) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '-replace with a script block needs PowerShell 6; 5.1 inserts the script block''s text'
                }
            }
            'AssignmentStatementAst' {
                if ($node.Operator.ToString() -eq 'QuestionQuestionEquals') {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'??=' needs PowerShell 7"
                }
            }
            { $_ -in @('MemberExpressionAst', 'InvokeMemberExpressionAst', 'IndexExpressionAst') } {
                if ($node.NullConditional) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'?.' and '?[]' need PowerShell 7"
                }
                if ($kind -eq 'InvokeMemberExpressionAst' -and $null -ne $node.GenericTypeArguments -and @($node.GenericTypeArguments).Count -gt 0) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "generic method calls '.Method[T]()' need PowerShell 7.3; use reflection (MakeGenericMethod)"
                }
            }
            'ScriptBlockAst' {
                if ($null -ne $node.CleanBlock) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $node.CleanBlock.Extent.StartLineNumber -Message "'clean' blocks need PowerShell 7.3; use end {} with try/finally"
                }
                $requirements = $node.ScriptRequirements
                if ($null -ne $requirements) {
                    if ($null -ne $requirements.RequiredPSVersion -and $requirements.RequiredPSVersion.Major -gt 5) {
                        New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "#Requires -Version $($requirements.RequiredPSVersion) shuts out Windows PowerShell 5.1"
                    }
                    $editions = @($requirements.RequiredPSEditions)
                    if ($editions.Count -gt 0 -and $editions -notcontains 'Desktop') {
                        New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '#Requires -PSEdition Core shuts out Windows PowerShell 5.1'
                    }
                }
            }
            'PipelineAst' {
                if ($node.Background) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "a trailing '&' (background job) needs PowerShell 6; use Start-Job"
                }
            }
            'TypeDefinitionAst' {
                if ($node.IsEnum -and @($node.BaseTypes).Count -gt 0) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "an enum's underlying type ('enum X : byte') needs PowerShell 6.2"
                }
            }
            'AttributeAst' {
                $name = $node.TypeName.Name -replace 'Attribute$', ''
                if ($script:Ps7Attributes -contains $name) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "[$name()] is not in Windows PowerShell 5.1"
                } elseif ($name -eq 'ValidateRange' -and @($node.PositionalArguments).Count -eq 1) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '[ValidateRange(kind)] (Positive, NonNegative, ...) needs PowerShell 6.1; give both bounds'
                }
            }
            'ConstantExpressionAst' {
                if ($node.Extent.Text -match '^(?i)(0b[01_]+|(0x[0-9a-f]+|\d+)(y|uy|s|us|u|ul|n))$') {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "'$($node.Extent.Text)': binary literals and the y/s/u/n suffixes need PowerShell 6.2 or 7"
                }
            }
            { $_ -in @('ExpandableStringExpressionAst', 'StringConstantExpressionAst') } {
                if ($node.StringConstantType.ToString() -in @('DoubleQuoted', 'DoubleQuotedHereString') -and $node.Extent.Text -match '(?<!`)(``)*`(e|u\{)') {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '"`e" and "`u{...}" escapes need PowerShell 6; 5.1 reads them as plain e and u'
                }
            }
        }
    }
}

function Test-FeatureGuard {
    # Whether the node is in the body of an if whose condition names the member: feature detection
    # such as "if ($null -ne $info.PSObject.Properties['ArgumentList'])", which 5.1 skips.
    [CmdletBinding()]
    [OutputType([bool])]
    param([System.Management.Automation.Language.Ast] $Node, [string] $Name)
    $child = $Node
    $parent = $Node.Parent
    while ($null -ne $parent) {
        if ($parent -is [System.Management.Automation.Language.IfStatementAst]) {
            foreach ($clause in $parent.Clauses) {
                if ([object]::ReferenceEquals($clause.Item2, $child) -and $clause.Item1.Extent.Text -match ('[''"]{0}[''"]' -f [regex]::Escape($Name))) {
                    return $true
                }
            }
        }
        $child = $parent
        $parent = $parent.Parent
    }
    $false
}

function Test-CharacterRangeOperand {
    [CmdletBinding()]
    [OutputType([bool])]
    param([object] $Node)
    (Test-AstType -Node $Node -TypeName 'StringConstantExpressionAst') -and $Node.Value.Length -eq 1 -and $Node.Value -notmatch '^\d$'
}

# --------------------------------------------------------------------------------------------
# Windows PowerShell 5.1: variables
# --------------------------------------------------------------------------------------------
function Find-Ps51VariableViolation {
    <#
    .SYNOPSIS
    $IsWindows, $IsLinux, $IsMacOS and $IsCoreCLR outside a PSEdition guard ($null, so false, in
    5.1), and variables only PowerShell 7 reads.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $variables = Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.VariableExpressionAst] }
    foreach ($variable in $variables) {
        $name = $variable.VariablePath.UserPath
        $line = $variable.Extent.StartLineNumber
        if ($script:Ps7Variables -contains $name) {
            New-RuleViolation -Rule 'ps51-variable' -Source $Source -Line $line -Message "`$$name does not exist in Windows PowerShell 5.1"
        } elseif ($script:PlatformVariables -contains $name -and -not (Test-EditionGuard -Node $variable)) {
            New-RuleViolation -Rule 'ps51-variable' -Source $Source -Line $line -Message "`$$name is `$null in Windows PowerShell 5.1: guard it with `$PSVersionTable.PSEdition -eq 'Core' -and ..., or use [System.Environment]::OSVersion.Platform"
        }
    }
}

function Test-EditionGuard {
    # Whether the node sits on the right of '-and' (or in the body of an if) whose condition reads PSEdition or PSVersionTable.
    [CmdletBinding()]
    [OutputType([bool])]
    param([System.Management.Automation.Language.Ast] $Node)
    $child = $Node
    $parent = $Node.Parent
    while ($null -ne $parent) {
        if ($parent -is [System.Management.Automation.Language.BinaryExpressionAst] -and $parent.Operator.ToString() -eq 'And' -and
            [object]::ReferenceEquals($parent.Right, $child) -and $parent.Left.Extent.Text -match 'PSEdition|PSVersionTable') {
            return $true
        }
        if ($parent -is [System.Management.Automation.Language.IfStatementAst]) {
            foreach ($clause in $parent.Clauses) {
                if ([object]::ReferenceEquals($clause.Item2, $child) -and $clause.Item1.Extent.Text -match 'PSEdition|PSVersionTable') {
                    return $true
                }
            }
        }
        $child = $parent
        $parent = $parent.Parent
    }
    $false
}

# --------------------------------------------------------------------------------------------
# Windows PowerShell 5.1: commands and parameters
# --------------------------------------------------------------------------------------------
function Get-Ps51CommandTable {
    # Command name -> the names of its parameters in Windows PowerShell 5.1 (WindowsPowerShell51Commands.psd1).
    [CmdletBinding()]
    [OutputType([hashtable])]
    param()
    if ($null -eq $script:Ps51Commands) {
        $data = Import-PowerShellDataFile -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath 'WindowsPowerShell51Commands.psd1')
        $table = @{}
        foreach ($module in $data.Keys) {
            foreach ($command in $data[$module].Keys) {
                $table[$command] = @($data[$module][$command] -split ' ' | Where-Object { $_ })
            }
        }
        $script:Ps51Commands = $table
    }
    $script:Ps51Commands
}

function Get-CachedCommand {
    [CmdletBinding()]
    param([string] $Name)
    if (-not $script:CommandCache.ContainsKey($Name)) {
        $command = Get-Command -Name $Name -ErrorAction Ignore | Select-Object -First 1
        while ($null -ne $command -and $command.CommandType -eq 'Alias') {
            $command = $command.ResolvedCommand
        }
        $script:CommandCache[$Name] = $command
    }
    $script:CommandCache[$Name]
}

function Find-Ps51CommandViolation {
    <#
    .SYNOPSIS
    Calls of PowerShell's own commands that Windows PowerShell 5.1 does not have, or with
    parameters or -Encoding values that it does not have. Splatted parameters are not seen.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $table = Get-Ps51CommandTable
    $common = @([System.Management.Automation.Cmdlet]::CommonParameters) + @([System.Management.Automation.Cmdlet]::OptionalCommonParameters) | Where-Object { $_ -ne 'ProgressAction' }
    $commands = Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.CommandAst] }
    foreach ($command in $commands) {
        $name = $command.GetCommandName()
        if (-not $name -or $command.InvocationOperator.ToString() -ne 'Unknown') {
            continue
        }
        $line = $command.Extent.StartLineNumber
        $resolved = Get-CachedCommand -Name $name
        $known = $table.ContainsKey($name)
        if (-not $known -and $null -ne $resolved -and $table.ContainsKey($resolved.Name)) {
            $known = $true
            $name = $resolved.Name
        }
        if (-not $known) {
            if ($null -ne $resolved -and $resolved.ModuleName -match $script:CoreModulePattern) {
                New-RuleViolation -Rule 'ps51-command' -Source $Source -Line $line -Message "$($resolved.Name) is not in Windows PowerShell 5.1 (new in PowerShell 6 or 7)"
            }
            continue
        }
        $allowed = $table[$name]
        $elements = @($command.CommandElements)
        for ($index = 1; $index -lt $elements.Count; $index++) {
            $element = $elements[$index]
            if ($element -isnot [System.Management.Automation.Language.CommandParameterAst]) {
                continue
            }
            $parameter = $element.ParameterName
            if ($parameter -eq 'ProgressAction') {
                New-RuleViolation -Rule 'ps51-command' -Source $Source -Line $line -Message '-ProgressAction is a common parameter only since PowerShell 7.4; set $ProgressPreference'
                continue
            }
            $canonical = Resolve-Ps51ParameterName -Name $parameter -Allowed ($allowed + $common) -Command $resolved
            if ($null -eq $canonical) {
                New-RuleViolation -Rule 'ps51-command' -Source $Source -Line $line -Message "$name -$parameter is not in Windows PowerShell 5.1"
                continue
            }
            if ($canonical -eq 'Encoding') {
                $argument = $element.Argument
                if ($null -eq $argument -and $index + 1 -lt $elements.Count -and $elements[$index + 1] -isnot [System.Management.Automation.Language.CommandParameterAst]) {
                    $argument = $elements[$index + 1]
                }
                if ($argument -is [System.Management.Automation.Language.ConstantExpressionAst] -and $script:Ps51Encodings -notcontains [string]$argument.Value) {
                    New-RuleViolation -Rule 'ps51-command' -Source $Source -Line $line -Message "$name -Encoding $($argument.Value) is not in Windows PowerShell 5.1 ($($script:Ps51Encodings -join ', '))"
                }
            }
        }
    }
}

function Resolve-Ps51ParameterName {
    # The 5.1 parameter that -Name binds to (exact name, PowerShell 7's alias of a 5.1 parameter, or a unique prefix), or $null.
    [CmdletBinding()]
    param([string] $Name, [string[]] $Allowed, [object] $Command)
    $exact = @($Allowed | Where-Object { $_ -eq $Name })
    if ($exact.Count -gt 0) {
        return $exact[0]
    }
    if ($null -ne $Command -and $null -ne $Command.Parameters) {
        foreach ($metadata in $Command.Parameters.Values) {
            if (@($metadata.Aliases) -contains $Name -and $Allowed -contains $metadata.Name) {
                return $metadata.Name
            }
        }
    }
    $prefixed = @($Allowed | Where-Object { $_.StartsWith($Name, [System.StringComparison]::OrdinalIgnoreCase) })
    if ($prefixed.Count -eq 1) {
        return $prefixed[0]
    }
    $null
}

# --------------------------------------------------------------------------------------------
# Windows PowerShell 5.1: .NET Framework
# --------------------------------------------------------------------------------------------
function Get-NetFrameworkReferencePath {
    <#
    .SYNOPSIS
    The NuGet packages folder that holds microsoft.netframework.referenceassemblies.net45,
    powershellstandard.library and system.reflection.metadataloadcontext, or $null.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $candidates = @($env:PREFECTWIN_NUGET_PACKAGES, '/root/.cache/prefectwin-ci/nuget') | Where-Object { $_ }
    foreach ($candidate in $candidates) {
        if (Test-Path -LiteralPath (Join-Path -Path $candidate -ChildPath 'microsoft.netframework.referenceassemblies.net45')) {
            return $candidate
        }
    }
    $null
}

function Initialize-NetFrameworkReference {
    <#
    .SYNOPSIS
    Loads the .NET Framework 4.5 reference assemblies (the oldest framework Windows PowerShell 5.1
    runs on is 4.5.2) and PowerShell Standard 5.1's System.Management.Automation into a
    MetadataLoadContext, where they can be read and never run.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [string] $PackagesPath)
    if ($null -ne $script:NetFramework) {
        return
    }
    $loader = @(Get-ChildItem -Path (Join-Path -Path $PackagesPath -ChildPath 'system.reflection.metadataloadcontext') -Recurse -Filter 'System.Reflection.MetadataLoadContext.dll' |
            Where-Object { $_.FullName -match '[\\/]lib[\\/]net8\.0[\\/]' })[0]
    Add-Type -LiteralPath $loader.FullName
    $framework = @(Get-ChildItem -Path (Join-Path -Path $PackagesPath -ChildPath 'microsoft.netframework.referenceassemblies.net45') -Recurse -Directory -Force -Filter 'v4.5')[0].FullName
    $automation = @(Get-ChildItem -Path (Join-Path -Path $PackagesPath -ChildPath 'powershellstandard.library') -Recurse -Filter 'System.Management.Automation.dll' |
            Where-Object { $_.FullName -match '[\\/]net452[\\/]' })[0].FullName
    $paths = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($file in @(Get-ChildItem -Path $framework -Filter '*.dll') + @(Get-ChildItem -Path (Join-Path -Path $framework -ChildPath 'Facades') -Filter '*.dll')) {
        $paths.Add($file.FullName)
    }
    $paths.Add($automation)
    $resolver = New-Object -TypeName System.Reflection.PathAssemblyResolver -ArgumentList (, [string[]]$paths.ToArray())
    $context = New-Object -TypeName System.Reflection.MetadataLoadContext -ArgumentList $resolver, 'mscorlib'
    $assemblies = New-Object -TypeName 'System.Collections.Generic.List[System.Reflection.Assembly]'
    foreach ($path in $paths) {
        try {
            $assemblies.Add($context.LoadFromAssemblyPath($path))
        } catch {
            # mscorlib (loaded by the context already) and facades without metadata of their own.
            Write-Verbose -Message "not loaded: $path ($($_.Exception.Message))"
        }
    }
    # mscorlib, the core assembly, is loaded by the context itself (and refused a second time above).
    $script:NetFramework = @{ Context = $context; Assemblies = @($context.GetAssemblies()); Types = @{} }
}

function Get-NetFrameworkType {
    # The .NET Framework 4.5 (or PowerShell Standard 5.1) type of this full name, or $null.
    [CmdletBinding()]
    param([string] $FullName)
    $types = $script:NetFramework.Types
    if (-not $types.ContainsKey($FullName)) {
        $found = $null
        foreach ($assembly in $script:NetFramework.Assemblies) {
            try {
                $found = $assembly.GetType($FullName, $false)
            } catch [System.IO.FileNotFoundException] {
                $found = $null
            }
            if ($null -ne $found) {
                break
            }
        }
        $types[$FullName] = $found
    }
    $types[$FullName]
}

function Get-NetFrameworkProblem {
    # Why the runtime type (resolved by PowerShell 7) is missing from .NET Framework 4.5, or $null.
    [CmdletBinding()]
    [OutputType([string])]
    param([type] $Type)
    if ($Type.IsArray -or $Type.IsByRef -or $Type.IsPointer) {
        return Get-NetFrameworkProblem -Type $Type.GetElementType()
    }
    if ($Type.IsGenericType -and -not $Type.IsGenericTypeDefinition) {
        foreach ($argument in $Type.GetGenericArguments()) {
            $problem = Get-NetFrameworkProblem -Type $argument
            if ($problem) {
                return $problem
            }
        }
        $Type = $Type.GetGenericTypeDefinition()
    }
    if ($Type.Assembly.IsDynamic -or $Type.Assembly.GetName().Name -like 'PowerShell Class Assembly*' -or $Type.Assembly.Location -eq '') {
        return $null
    }
    if ($null -eq (Get-NetFrameworkType -FullName $Type.FullName)) {
        if ($Type.Assembly.GetName().Name -like 'System.Management.Automation*' -or $Type.Assembly.GetName().Name -like 'Microsoft.PowerShell*') {
            return "[$($Type.FullName)] is not in PowerShell Standard 5.1 (the API Windows PowerShell 5.1 and 7 share)"
        }
        return "[$($Type.FullName)] is not in .NET Framework 4.5"
    }
    $null
}

function Get-NetFrameworkMemberProblem {
    # Why .NET Framework 4.5's type has no such member (with that many arguments), or $null.
    [CmdletBinding()]
    [OutputType([string])]
    param([type] $Type, [string] $Member, [bool] $Static, [int] $ArgumentCount = -1)
    $reference = Get-NetFrameworkType -FullName $(if ($Type.IsGenericType) { $Type.GetGenericTypeDefinition().FullName } else { $Type.FullName })
    if ($null -eq $reference) {
        return $null
    }
    $flags = [System.Reflection.BindingFlags]'Public, FlattenHierarchy, IgnoreCase'
    $flags = $flags -bor $(if ($Static) { [System.Reflection.BindingFlags]::Static } else { [System.Reflection.BindingFlags]::Instance })
    if ($Member -eq 'new' -and $Static) {
        $candidates = @($reference.GetConstructors())
        $shown = "[$($Type.FullName)]::new"
    } else {
        $candidates = @($reference.GetMember($Member, $flags))
        if (-not $Static -and $reference.IsInterface) {
            $candidates += @($reference.GetInterfaces() | ForEach-Object -Process { $_.GetMember($Member, $flags) })
        }
        $shown = if ($Static) { "[$Type]::$Member" } else { "[$Type].$Member" }
    }
    if ($candidates.Count -eq 0) {
        return "$shown is not in .NET Framework 4.5"
    }
    if ($ArgumentCount -lt 0) {
        return $null
    }
    foreach ($candidate in $candidates) {
        if ($candidate.MemberType.ToString() -notin @('Method', 'Constructor')) {
            return $null
        }
        $parameters = @($candidate.GetParameters())
        $required = @($parameters | Where-Object { -not $_.IsOptional }).Count
        $variadic = $parameters.Count -gt 0 -and @($parameters[-1].GetCustomAttributesData() | Where-Object { $_.AttributeType.Name -eq 'ParamArrayAttribute' }).Count -gt 0
        if (($ArgumentCount -ge $required -and $ArgumentCount -le $parameters.Count) -or ($variadic -and $ArgumentCount -ge $parameters.Count - 1)) {
            return $null
        }
    }
    "$shown has no overload with $ArgumentCount arguments in .NET Framework 4.5"
}

function Get-TypeExtension {
    # The members PowerShell's type data adds to a type (they exist in 5.1 too), so .NET need not have them.
    [CmdletBinding()]
    param([type] $Type)
    $names = @()
    foreach ($data in @(Get-TypeData -TypeName $Type.FullName)) {
        $names += @($data.Members.Keys)
    }
    $names
}

function Find-NetFrameworkViolation {
    <#
    .SYNOPSIS
    Types, static members, constructors and the members of variables of a known type that .NET
    Framework 4.5 lacks, judged against its reference assemblies. Needs Initialize-NetFrameworkReference.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $rule = 'ps51-dotnet'
    $defined = @(Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.TypeDefinitionAst] } | ForEach-Object -Process { $_.Name })
    $typed = @{}
    $reported = @{}
    $typeNodes = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.TypeExpressionAst] -or $node -is [System.Management.Automation.Language.TypeConstraintAst]
    }
    foreach ($node in $typeNodes) {
        if ($node -is [System.Management.Automation.Language.TypeConstraintAst] -and $node.Parent -is [System.Management.Automation.Language.AttributedExpressionAst] -eq $false -and $node.Parent -isnot [System.Management.Automation.Language.ParameterAst] -and $node.Parent -isnot [System.Management.Automation.Language.PropertyMemberAst] -and $node.Parent -isnot [System.Management.Automation.Language.FunctionMemberAst]) {
            continue
        }
        if ($defined -contains $node.TypeName.Name) {
            continue
        }
        $type = $node.TypeName.GetReflectionType()
        if ($null -eq $type) {
            continue
        }
        $problem = Get-NetFrameworkProblem -Type $type
        if ($problem -and -not $reported.ContainsKey("$problem$($node.Extent.StartLineNumber)")) {
            $reported["$problem$($node.Extent.StartLineNumber)"] = $true
            New-RuleViolation -Rule $rule -Source $Source -Line $node.Extent.StartLineNumber -Message $problem
        }
    }
    # Static members and constructors: [Type]::Member, [Type]::Method(args), [Type]::new(args).
    $members = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.MemberExpressionAst] -and $node.Static -and
            $node.Expression -is [System.Management.Automation.Language.TypeExpressionAst] -and
            $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst]
    }
    foreach ($member in $members) {
        $type = $member.Expression.TypeName.GetReflectionType()
        if ($null -eq $type -or $defined -contains $member.Expression.TypeName.Name -or (Get-NetFrameworkProblem -Type $type)) {
            continue
        }
        $count = -1
        if ($member -is [System.Management.Automation.Language.InvokeMemberExpressionAst]) {
            $count = @($member.Arguments | Where-Object { $null -ne $_ }).Count
        }
        $problem = Get-NetFrameworkMemberProblem -Type $type -Member $member.Member.Value -Static $true -ArgumentCount $count
        if ($problem -and -not (Test-FeatureGuard -Node $member -Name $member.Member.Value)) {
            New-RuleViolation -Rule $rule -Source $Source -Line $member.Extent.StartLineNumber -Message $problem
        }
    }
    # New-Object -TypeName 'Literal' [-ArgumentList ...]; it also types the variable it is assigned to.
    $creations = Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.CommandAst] -and $node.GetCommandName() -eq 'New-Object' }
    foreach ($creation in $creations) {
        $bound = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($creation, $false)
        if (-not $bound.BoundParameters.ContainsKey('TypeName')) {
            continue
        }
        $value = $bound.BoundParameters['TypeName'].ConstantValue
        if ($value -isnot [string]) {
            continue
        }
        $type = $value -as [type]
        if ($null -eq $type) {
            continue
        }
        $problem = Get-NetFrameworkProblem -Type $type
        if (-not $problem -and $bound.BoundParameters.ContainsKey('ArgumentList')) {
            $argumentAst = $bound.BoundParameters['ArgumentList'].Value
            $count = 1
            if ($argumentAst -is [System.Management.Automation.Language.ArrayLiteralAst]) {
                $count = @($argumentAst.Elements).Count
            } elseif ($argumentAst -is [System.Management.Automation.Language.ArrayExpressionAst]) {
                $inner = @($argumentAst.SubExpression.Statements)
                $count = $inner.Count
                if ($inner.Count -eq 1 -and $inner[0].PipelineElements.Count -eq 1 -and $inner[0].PipelineElements[0].Expression -is [System.Management.Automation.Language.ArrayLiteralAst]) {
                    $count = @($inner[0].PipelineElements[0].Expression.Elements).Count
                }
            } elseif ($argumentAst -is [System.Management.Automation.Language.UnaryExpressionAst] -and $argumentAst.Operator.ToString() -eq 'Comma') {
                $count = 1
            }
            $problem = Get-NetFrameworkMemberProblem -Type $type -Member 'new' -Static $true -ArgumentCount $count
        }
        if ($problem) {
            New-RuleViolation -Rule $rule -Source $Source -Line $creation.Extent.StartLineNumber -Message $problem
        }
        Add-TypedVariable -Table $typed -Node $creation -Type $type
    }
    foreach ($assignment in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.AssignmentStatementAst] })) {
        $right = $assignment.Right
        if ($right -is [System.Management.Automation.Language.CommandExpressionAst]) {
            $expression = $right.Expression
            if ($expression -is [System.Management.Automation.Language.ConvertExpressionAst]) {
                Add-TypedVariable -Table $typed -Node $expression -Type $expression.Type.TypeName.GetReflectionType()
            } elseif ($expression -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and $expression.Static -and
                $expression.Expression -is [System.Management.Automation.Language.TypeExpressionAst] -and $expression.Member.Extent.Text -eq 'new') {
                Add-TypedVariable -Table $typed -Node $expression -Type $expression.Expression.TypeName.GetReflectionType()
            }
        }
    }
    # Instance members of those variables: $startInfo.ArgumentList is .NET Core's, not 4.5's.
    $instanceMembers = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.MemberExpressionAst] -and -not $node.Static -and
            $node.Expression -is [System.Management.Automation.Language.VariableExpressionAst] -and
            $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst]
    }
    foreach ($member in $instanceMembers) {
        $variable = $member.Expression.VariablePath.UserPath
        if (-not $typed.ContainsKey($variable) -or $null -eq $typed[$variable]) {
            continue
        }
        $type = $typed[$variable]
        $name = $member.Member.Value
        if ($script:IntrinsicMembers -contains $name -or (Get-TypeExtension -Type $type) -contains $name) {
            continue
        }
        $count = -1
        if ($member -is [System.Management.Automation.Language.InvokeMemberExpressionAst]) {
            $count = @($member.Arguments | Where-Object { $null -ne $_ }).Count
        }
        $problem = Get-NetFrameworkMemberProblem -Type $type -Member $name -Static $false -ArgumentCount $count
        if ($problem -and -not (Test-FeatureGuard -Node $member -Name $name)) {
            New-RuleViolation -Rule $rule -Source $Source -Line $member.Extent.StartLineNumber -Message "`$$variable is a [$type]: $problem"
        }
    }
}

function Add-TypedVariable {
    # Records '$name = <creation of Type>'; a name given two types in one file is not judged ($null).
    [CmdletBinding()]
    param([hashtable] $Table, [System.Management.Automation.Language.Ast] $Node, [type] $Type)
    if ($null -eq $Type -or $Type -eq [object] -or $Type -eq [psobject] -or $Type -eq [hashtable] -or $Type.FullName -eq 'System.Management.Automation.PSCustomObject' -or
        [System.Collections.IDictionary].IsAssignableFrom($Type)) {
        return
    }
    # Only '$name = <creation>': the creation is the whole right-hand side (a command in a
    # pipeline of one, or an expression), not part of a hashtable or a call.
    $parent = $Node.Parent
    if ($parent -is [System.Management.Automation.Language.PipelineAst] -and @($parent.PipelineElements).Count -eq 1) {
        $parent = $parent.Parent
    } elseif ($parent -is [System.Management.Automation.Language.CommandExpressionAst]) {
        $parent = $parent.Parent
    }
    if ($parent -isnot [System.Management.Automation.Language.AssignmentStatementAst] -or $parent.Left -isnot [System.Management.Automation.Language.VariableExpressionAst]) {
        return
    }
    $name = $parent.Left.VariablePath.UserPath
    if ($Table.ContainsKey($name) -and $Table[$name] -ne $Type) {
        $Table[$name] = $null
    } elseif (-not $Table.ContainsKey($name)) {
        $Table[$name] = $Type
    }
}

function Find-Ps51DotNetTrapViolation {
    <#
    .SYNOPSIS
    Instance calls on values of unknown type whose overload exists only in .NET Core, or binds to
    another overload on .NET Framework (where PowerShell 7 gives no error to notice).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $rule = 'ps51-dotnet'
    $calls = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and -not $node.Static -and
            $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst]
    }
    foreach ($call in $calls) {
        $name = $call.Member.Value
        if (Test-FeatureGuard -Node $call -Name $name) {
            continue
        }
        if ($name -eq 'Add' -and $call.Expression -is [System.Management.Automation.Language.MemberExpressionAst] -and (Test-FeatureGuard -Node $call -Name $call.Expression.Member.Extent.Text)) {
            continue
        }
        $arguments = @($call.Arguments | Where-Object { $null -ne $_ })
        $line = $call.Extent.StartLineNumber
        $first = $null
        if ($arguments.Count -gt 0) {
            $first = $arguments[0]
        }
        $isCharacter = $first -is [System.Management.Automation.Language.ConvertExpressionAst] -and $first.Type.TypeName.Name -eq 'char'
        $mentionsComparison = @($arguments | Where-Object { $_.Extent.Text -match 'StringComparison|OrdinalIgnoreCase|InvariantCulture|CurrentCulture' }).Count -gt 0
        switch ($name) {
            'Split' {
                if ($first -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $first.Value.Length -gt 1) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message ".Split('$($first.Value)'): .NET Framework has no Split(string); 5.1 splits on EACH character. Use -split or .Split([string[]]@(...), 'None')"
                }
            }
            { $_ -in @('Contains', 'StartsWith', 'EndsWith') } {
                if ($isCharacter) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message ".$name([char]) is .NET Core 2.0+; pass a string"
                } elseif ($name -eq 'Contains' -and $arguments.Count -eq 2 -and $mentionsComparison) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '.Contains(value, comparison) is .NET Core 2.1+; use .IndexOf(value, comparison) -ge 0'
                }
            }
            'Replace' {
                if ($arguments.Count -eq 3) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '.Replace(old, new, comparison) is .NET Core 2.0+; use -replace with [regex]::Escape'
                }
            }
            'Kill' {
                if ($arguments.Count -eq 1) {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message '.Kill($entireProcessTree) is .NET Core 3.0+; 5.1 has Kill() only'
                }
            }
            { $_ -in @('WaitForExitAsync', 'ReadAllTextAsync', 'WriteAllTextAsync', 'ReadAllLinesAsync', 'ReadAllBytesAsync') } {
                New-RuleViolation -Rule $rule -Source $Source -Line $line -Message ".$name() is .NET Core/.NET 5+; not in .NET Framework"
            }
            'Add' {
                if ($call.Expression -is [System.Management.Automation.Language.MemberExpressionAst] -and $call.Expression.Member.Extent.Text -eq 'ArgumentList') {
                    New-RuleViolation -Rule $rule -Source $Source -Line $line -Message 'ProcessStartInfo.ArgumentList is .NET Core 2.1+; build .Arguments (quoted) instead'
                }
            }
        }
    }
}

# --------------------------------------------------------------------------------------------
# House rules
# --------------------------------------------------------------------------------------------
function Find-AsciiViolation {
    <#
    .SYNOPSIS
    ASCII only: Windows PowerShell 5.1 reads a BOM-less file as ANSI, so any other byte changes.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $line = 1
    $column = 0
    $reportedLine = 0
    foreach ($byte in $Source.Bytes) {
        $column++
        if ($byte -eq 10) {
            $line++
            $column = 0
        } elseif ($byte -gt 127 -and $reportedLine -ne $line) {
            $reportedLine = $line
            New-RuleViolation -Rule 'ascii' -Source $Source -Line $line -Message ('non-ASCII byte 0x{0:X2} at column {1}' -f $byte, $column)
        }
    }
}

function Get-TokenLine {
    # 1-based line numbers covered by tokens of these kinds (strings that span lines, comments).
    [CmdletBinding()]
    param([object] $Source, [switch] $Strings, [switch] $Comments)
    $lines = @{}
    foreach ($token in $Source.Tokens) {
        $isString = $token.Kind.ToString() -in @('StringLiteral', 'StringExpandable', 'HereStringLiteral', 'HereStringExpandable')
        $isComment = $token.Kind.ToString() -eq 'Comment'
        if (($Strings -and $isString) -and $token.Extent.EndLineNumber -gt $token.Extent.StartLineNumber) {
            foreach ($number in ($token.Extent.StartLineNumber + 1)..$token.Extent.EndLineNumber) {
                $lines[$number] = $true
            }
        }
        if ($Comments -and $isComment) {
            foreach ($number in $token.Extent.StartLineNumber..$token.Extent.EndLineNumber) {
                $lines[$number] = $true
            }
        }
    }
    $lines
}

function Find-LayoutViolation {
    <#
    .SYNOPSIS
    No tabs, no trailing whitespace, 4-space indentation, no opening brace on a line of its own.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $inStrings = Get-TokenLine -Source $Source -Strings
    $inComments = Get-TokenLine -Source $Source -Comments
    for ($index = 0; $index -lt $Source.Lines.Count; $index++) {
        $text = $Source.Lines[$index]
        $number = $index + 1
        if ($text.Contains("`t")) {
            New-RuleViolation -Rule 'layout' -Source $Source -Line $number -Message 'tab character; indent with 4 spaces'
        }
        if ($inStrings.ContainsKey($number)) {
            continue
        }
        if ($text -ne $text.TrimEnd()) {
            New-RuleViolation -Rule 'layout' -Source $Source -Line $number -Message 'trailing whitespace'
        }
        if ($inComments.ContainsKey($number) -or -not $text.Trim()) {
            continue
        }
        $indent = $text.Length - $text.TrimStart(' ').Length
        if ($indent % 4) {
            New-RuleViolation -Rule 'layout' -Source $Source -Line $number -Message "indented by $indent spaces; use multiples of 4"
        }
        if ($text.Trim() -eq '{') {
            New-RuleViolation -Rule 'layout' -Source $Source -Line $number -Message 'opening brace on its own line; put it at the end of the previous line'
        }
    }
}

function Find-WriteHostViolation {
    <#
    .SYNOPSIS
    No Write-Host and no [Console]: output goes to streams a caller can redirect.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    foreach ($command in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.CommandAst] })) {
        if ($command.GetCommandName() -eq 'Write-Host') {
            New-RuleViolation -Rule 'write-host' -Source $Source -Line $command.Extent.StartLineNumber -Message 'Write-Host; use Write-Output, Write-Verbose or Write-Information'
        }
    }
    foreach ($type in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.TypeExpressionAst] })) {
        if ($type.TypeName.FullName -match '^(System\.)?Console$') {
            New-RuleViolation -Rule 'write-host' -Source $Source -Line $type.Extent.StartLineNumber -Message '[Console] writes around PowerShell''s streams'
        }
    }
}

function Find-AliasViolation {
    <#
    .SYNOPSIS
    Commands are spelled out: no aliases (Windows PowerShell's, and any this PowerShell defines).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    foreach ($command in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.CommandAst] })) {
        $name = $command.GetCommandName()
        if (-not $name -or $command.InvocationOperator.ToString() -ne 'Unknown') {
            continue
        }
        $alias = Get-Alias -Name $name -ErrorAction Ignore
        if ($script:WindowsAliases -contains $name -or $null -ne $alias) {
            New-RuleViolation -Rule 'alias' -Source $Source -Line $command.Extent.StartLineNumber -Message "alias '$name'; spell the command out"
        }
    }
}

function Find-ProcessStartViolation {
    <#
    .SYNOPSIS
    Only Private/Start-PrefectBackend.ps1 starts processes: no Start-Process, Invoke-Expression,
    [Diagnostics.Process], ProcessStartInfo, '&' calls or external programs elsewhere.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Source,

        [Parameter()]
        [switch] $AllowDotSource
    )
    $bridge = 'Private/Start-PrefectBackend.ps1'
    foreach ($command in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.CommandAst] })) {
        $line = $command.Extent.StartLineNumber
        $operator = $command.InvocationOperator.ToString()
        $name = $command.GetCommandName()
        if ($operator -ne 'Unknown') {
            if ($command.CommandElements[0] -is [System.Management.Automation.Language.ScriptBlockExpressionAst]) {
                continue
            }
            if ($operator -eq 'Dot' -and $AllowDotSource) {
                continue
            }
            New-RuleViolation -Rule 'process' -Source $Source -Line $line -Message "'$($command.CommandElements[0].Extent.Text)' invoked with '$($command.Extent.Text.Substring(0, 1))' runs a program or script; only $bridge starts processes"
        } elseif ($script:ProcessCommands -contains $name) {
            New-RuleViolation -Rule 'process' -Source $Source -Line $line -Message "$name starts a process or runs code; only $bridge may"
        } elseif ($name -notmatch '^[A-Za-z]+-[A-Za-z][A-Za-z0-9]*$') {
            New-RuleViolation -Rule 'process' -Source $Source -Line $line -Message "'$name' is not a Verb-Noun command: an alias or an external program"
        }
    }
    $mentions = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.TypeExpressionAst] -or $node -is [System.Management.Automation.Language.TypeConstraintAst] -or
            $node -is [System.Management.Automation.Language.StringConstantExpressionAst]
    }
    foreach ($mention in $mentions) {
        $text = if ($mention -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $mention.Value } else { $mention.TypeName.FullName }
        if ((' ' + $text) -match $script:ProcessTypePattern) {
            New-RuleViolation -Rule 'process' -Source $Source -Line $mention.Extent.StartLineNumber -Message "$text`: only $bridge starts processes"
        }
    }
}

function Find-StringVariableViolation {
    <#
    .SYNOPSIS
    "$name:text" in a string is the variable 'text' of a drive 'name', not $name then ':': write "${name}:".
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $scopes = @('env', 'script', 'global', 'local', 'private', 'using', 'variable', 'function', 'alias', 'workflow')
    $strings = Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.ExpandableStringExpressionAst] }
    foreach ($string in $strings) {
        foreach ($variable in @($string.NestedExpressions | Where-Object { $_ -is [System.Management.Automation.Language.VariableExpressionAst] })) {
            $path = $variable.VariablePath
            if ($path.IsDriveQualified -and $scopes -notcontains $path.DriveName) {
                New-RuleViolation -Rule 'string' -Source $Source -Line $variable.Extent.StartLineNumber -Message "'$($variable.Extent.Text)' in a string is a drive-qualified variable; write '`${$($path.DriveName)}:'"
            }
        }
    }
}

function Find-ParameterShadowingViolation {
    <#
    .SYNOPSIS
    Variables ignore case: '$bootstrap = ...' overwrites a [string] $Bootstrap parameter (and
    converts the value to its type). A deliberate reassignment is spelled like the parameter.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $functions = Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }
    foreach ($function in $functions) {
        $declared = @{}
        foreach ($parameter in @(Get-FunctionParameterAst -Function $function)) {
            $declared[$parameter.Name.VariablePath.UserPath.ToLowerInvariant()] = $parameter.Name.VariablePath.UserPath
        }
        $body = $function.Body
        foreach ($node in (Find-RuleAst -Root $body -Predicate { param($n) $n -is [System.Management.Automation.Language.AssignmentStatementAst] -or $n -is [System.Management.Automation.Language.ForEachStatementAst] })) {
            $target = if ($node -is [System.Management.Automation.Language.ForEachStatementAst]) { $node.Variable } else { $node.Left }
            if ($target -isnot [System.Management.Automation.Language.VariableExpressionAst] -or $target.VariablePath.IsDriveQualified -or $target.VariablePath.IsScript) {
                continue
            }
            $name = $target.VariablePath.UserPath
            if (-not $declared.ContainsKey($name.ToLowerInvariant())) {
                continue
            }
            $parameterName = $declared[$name.ToLowerInvariant()]
            if ($node -is [System.Management.Automation.Language.ForEachStatementAst]) {
                New-RuleViolation -Rule 'shadow' -Source $Source -Line $node.Extent.StartLineNumber -Message "foreach (`$$name ...) overwrites the parameter `$$parameterName"
            } elseif ($name -cne $parameterName) {
                New-RuleViolation -Rule 'shadow' -Source $Source -Line $node.Extent.StartLineNumber -Message "'`$$name' is the parameter `$$parameterName (names ignore case); rename the variable"
            }
        }
    }
}

function Get-FunctionParameterAst {
    # A function's parameters, from its param() block or its 'function Name($a)' form.
    [CmdletBinding()]
    param([System.Management.Automation.Language.FunctionDefinitionAst] $Function)
    if ($null -ne $Function.Body.ParamBlock) {
        @($Function.Body.ParamBlock.Parameters)
    } elseif ($null -ne $Function.Parameters) {
        @($Function.Parameters)
    }
}

function Find-PSScriptRootViolation {
    <#
    .SYNOPSIS
    Public/ and Private/ are inlined into one psm1 by './build.ps1 Build', where $PSScriptRoot is
    the module folder: use $script:PrefectWinModuleRoot, which PrefectWin.psm1 sets in both layouts.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    foreach ($variable in (Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.VariableExpressionAst] })) {
        if ($variable.VariablePath.UserPath -eq 'PSScriptRoot') {
            New-RuleViolation -Rule 'psscriptroot' -Source $Source -Line $variable.Extent.StartLineNumber -Message '$PSScriptRoot changes meaning in the built module; use $script:PrefectWinModuleRoot'
        }
    }
}

function Find-FileFunctionViolation {
    <#
    .SYNOPSIS
    A Public/ or Private/ file defines exactly one function, named like the file, and no code
    that runs at import (a Private/ file may set the module's own $script: state); every
    function is advanced, has a .SYNOPSIS and an approved verb. One function per file, named
    like it, is what lets a reader find a helper by its name, and keeps each file small.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Source,

        [Parameter(Mandatory = $true)]
        [string] $FileStem,

        [Parameter(Mandatory = $true)]
        [ValidateSet('Public', 'Private')]
        [string] $Folder
    )
    $rule = $Folder.ToLowerInvariant()
    $verbs = @(Get-Verb | ForEach-Object -Process { $_.Verb })
    $top = @($Source.Ast.EndBlock.Statements)
    $functions = @($top | Where-Object { $_ -is [System.Management.Automation.Language.FunctionDefinitionAst] })
    foreach ($statement in $top) {
        # A Private/ file may initialise the module's own state ($script:Name = constant).
        $isState = $Folder -eq 'Private' -and $statement -is [System.Management.Automation.Language.AssignmentStatementAst] -and
            $statement.Left -is [System.Management.Automation.Language.VariableExpressionAst] -and $statement.Left.VariablePath.IsScript
        if ($statement -isnot [System.Management.Automation.Language.FunctionDefinitionAst] -and -not $isState) {
            New-RuleViolation -Rule $rule -Source $Source -Line $statement.Extent.StartLineNumber -Message 'code outside a function runs at import; move it into a function'
        }
    }
    if ($null -ne $Source.Ast.BeginBlock -or $null -ne $Source.Ast.ProcessBlock -or $null -ne $Source.Ast.ParamBlock) {
        New-RuleViolation -Rule $rule -Source $Source -Message 'a file of functions has no param(), begin or process of its own'
    }
    if ($functions.Count -eq 0) {
        New-RuleViolation -Rule $rule -Source $Source -Message "defines no function; a $Folder/ file defines $FileStem"
        return
    }
    if ($functions.Count -ne 1) {
        New-RuleViolation -Rule $rule -Source $Source -Line $functions[1].Extent.StartLineNumber -Message "defines $($functions.Count) functions; a $Folder/ file defines exactly one: move $($functions[1].Name) into $($functions[1].Name).ps1"
    }
    if ($functions[0].Name -cne $FileStem) {
        New-RuleViolation -Rule $rule -Source $Source -Line $functions[0].Extent.StartLineNumber -Message "function '$($functions[0].Name)' is in '$FileStem.ps1'; name them alike"
    }
    foreach ($function in $functions) {
        $line = $function.Extent.StartLineNumber
        $verb = $function.Name.Split('-')[0]
        if ($verbs -cnotcontains $verb) {
            New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "$($function.Name): '$verb' is not an approved verb (Get-Verb)"
        }
        $binding = $null
        if ($null -ne $function.Body.ParamBlock) {
            $binding = @($function.Body.ParamBlock.Attributes | Where-Object { $_.TypeName.Name -eq 'CmdletBinding' })
        }
        if (-not $binding) {
            New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "$($function.Name) has no [CmdletBinding()]"
        }
        $help = $function.GetHelpContent()
        if ($null -eq $help -or -not $help.Synopsis) {
            New-RuleViolation -Rule $rule -Source $Source -Line $line -Message "$($function.Name) has no .SYNOPSIS"
        }
    }
}

# --------------------------------------------------------------------------------------------
# DSC: the resource classes and the configurations that use them
# --------------------------------------------------------------------------------------------
# Properties every DSC resource block has already (OMI_BaseResource and the configuration
# keyword's meta-properties): a resource property of the same name would be shadowed by them.
$script:DscReservedProperties = @('DependsOn', 'PsDscRunAsCredential', 'ResourceId', 'SourceInfo', 'ModuleName', 'ModuleVersion', 'ConfigurationName')
# The meta-properties a resource block in a configuration may set besides the class's own.
$script:DscMetaProperties = @('DependsOn', 'PsDscRunAsCredential')
$script:SecretNamePattern = '(?i)pass(word|phrase)?|secret|token|api_?key|private_?key'

function Get-DscAttributeAst {
    # The attributes of a type or member named -Name, as written: [DscProperty()] or [DscPropertyAttribute()].
    [CmdletBinding()]
    param([object] $Node, [string] $Name)
    @($Node.Attributes | Where-Object { $_ -is [System.Management.Automation.Language.AttributeAst] -and @($Name, "${Name}Attribute") -contains $_.TypeName.Name })
}

function Find-DscResourceViolation {
    <#
    .SYNOPSIS
    Class-based DSC resources as DSC needs them, beyond what PowerShell's parser enforces
    itself (a Key property, the DscProperty arguments, [DscResource()] on classes only, and
    [T] Get(), [bool] Test(), [void] Set(): tests/DscShape.Tests.ps1 pins those errors). In a
    file that uses [DscResource()] or [DscProperty()], every class is a [DscResource()]; each
    property DSC sees is a typed [DscProperty()] (or is hidden); no property takes a name DSC
    reserves; one whose name looks like a secret is a [PSCredential] (a MOF keeps anything else
    in clear text); and each resource has static [T[]] Export().
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)] [object] $Source)
    $types = @(Find-RuleAst -Root $Source.Ast -Predicate { param($node) $node -is [System.Management.Automation.Language.TypeDefinitionAst] -and $node.IsClass })
    $usesDsc = @($types | Where-Object {
            @(Get-DscAttributeAst -Node $_ -Name 'DscResource').Count -gt 0 -or
            @($_.Members | Where-Object { @(Get-DscAttributeAst -Node $_ -Name 'DscProperty').Count -gt 0 }).Count -gt 0
        }).Count -gt 0
    if (-not $usesDsc) {
        return
    }
    $credentialTypes = @('PSCredential', 'System.Management.Automation.PSCredential')
    foreach ($type in $types) {
        $line = $type.Extent.StartLineNumber
        if (@(Get-DscAttributeAst -Node $type -Name 'DscResource').Count -eq 0) {
            New-RuleViolation -Rule 'dsc' -Source $Source -Line $line -Message "class $($type.Name) in a DSC file has no [DscResource()]"
            continue
        }
        foreach ($property in @($type.Members | Where-Object { $_ -is [System.Management.Automation.Language.PropertyMemberAst] -and -not $_.IsHidden })) {
            $at = $property.Extent.StartLineNumber
            $label = '{0}.{1}' -f $type.Name, $property.Name
            if (@(Get-DscAttributeAst -Node $property -Name 'DscProperty').Count -eq 0) {
                New-RuleViolation -Rule 'dsc' -Source $Source -Line $at -Message "$label is not a [DscProperty()]; make it hidden if DSC must not see it"
                continue
            }
            if ($null -eq $property.PropertyType) {
                New-RuleViolation -Rule 'dsc' -Source $Source -Line $at -Message "$label has no type"
            }
            if ($script:DscReservedProperties -contains $property.Name) {
                New-RuleViolation -Rule 'dsc' -Source $Source -Line $at -Message "${label}: every DSC resource block has $($property.Name) already (a meta-property); rename it"
            }
            $typeName = if ($null -ne $property.PropertyType) { $property.PropertyType.TypeName.FullName } else { '' }
            if ($property.Name -match $script:SecretNamePattern -and $credentialTypes -notcontains $typeName) {
                New-RuleViolation -Rule 'dsc' -Source $Source -Line $at -Message "$label looks like a secret but is [$typeName]: a MOF keeps it in clear text; use a [PSCredential]"
            }
        }
        $export = @($type.Members | Where-Object { $_ -is [System.Management.Automation.Language.FunctionMemberAst] -and $_.Name -eq 'Export' -and $_.IsStatic })
        $returns = if ($export.Count -eq 1 -and $null -ne $export[0].ReturnType) { $export[0].ReturnType.TypeName.FullName } else { '' }
        if ($export.Count -ne 1 -or $returns -ne "$($type.Name)[]" -or @($export[0].Parameters).Count -ne 0) {
            New-RuleViolation -Rule 'dsc' -Source $Source -Line $line -Message "$($type.Name) has no static [$($type.Name)[]] Export()"
        }
    }
}

function Find-DscConfigurationViolation {
    <#
    .SYNOPSIS
    In a configuration script, each block of one of the -Resource resources ('PrefectService
    Name { Property = value ... }') sets only properties the resource has (-Resource maps a
    resource name to its configurable properties) or DSC's meta-properties, and nothing outside a
    comment allows plain-text passwords in the MOF.
    .DESCRIPTION
    PowerShell parses a Configuration only where DSC's schema store exists (Windows, or PS DSC
    for Linux), so the caller hands the script with 'Configuration Name {' read as 'function Name
    {' (ConvertTo-DscConfigurationSource): a resource block is then a command with a script
    block argument, and 'Property = value' a command named like the property.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)]
        [object] $Source,

        [Parameter(Mandatory = $true)]
        [hashtable] $Resource
    )
    foreach ($token in @($Source.Tokens | Where-Object { $_.Kind -ne 'Comment' -and $_.Text -match 'PlainTextPassword' })) {
        New-RuleViolation -Rule 'dsc-configuration' -Source $Source -Line $token.Extent.StartLineNumber -Message "$($token.Text): never allow plain-text passwords in a MOF; encrypt credentials with the node's certificate"
    }
    $blocks = Find-RuleAst -Root $Source.Ast -Predicate {
        param($node)
        $node -is [System.Management.Automation.Language.CommandAst] -and $null -ne $node.GetCommandName() -and $Resource.ContainsKey($node.GetCommandName())
    }
    foreach ($block in $blocks) {
        $name = @($Resource.Keys | Where-Object { $_ -eq $block.GetCommandName() })[0]
        $body = @($block.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.ScriptBlockExpressionAst] })
        if ($body.Count -ne 1) {
            New-RuleViolation -Rule 'dsc-configuration' -Source $Source -Line $block.Extent.StartLineNumber -Message "$name block without { ... }"
            continue
        }
        foreach ($statement in @($body[0].ScriptBlock.EndBlock.Statements)) {
            $command = $null
            if ($statement -is [System.Management.Automation.Language.PipelineAst] -and $statement.PipelineElements.Count -eq 1) {
                $command = $statement.PipelineElements[0]
            }
            if ($command -isnot [System.Management.Automation.Language.CommandAst] -or $command.CommandElements.Count -lt 2 -or $command.CommandElements[1].Extent.Text -ne '=') {
                New-RuleViolation -Rule 'dsc-configuration' -Source $Source -Line $statement.Extent.StartLineNumber -Message "$name block: '$($statement.Extent.Text)' is not 'Property = value'"
                continue
            }
            $property = $command.GetCommandName()
            if (@($Resource[$name]) + $script:DscMetaProperties -notcontains $property) {
                New-RuleViolation -Rule 'dsc-configuration' -Source $Source -Line $statement.Extent.StartLineNumber -Message "$name has no property $property"
            }
        }
    }
}

function ConvertTo-DscConfigurationSource {
    <#
    .SYNOPSIS
    A configuration script as Find-DscConfigurationViolation reads it: each 'Configuration Name {'
    read as 'function Name {' (see that rule), parsed with Read-RuleSource.
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.RuleSource')]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Text,

        [Parameter()]
        [string] $Label = '<configuration>'
    )
    $asFunction = [regex]::Replace($Text, '(?im)^([ \t]*)Configuration([ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*\{)', '${1}function$2')
    Read-RuleSource -Text $asFunction -Label $Label
}

Export-ModuleMember -Function @(
    'ConvertTo-DscConfigurationSource',
    'Find-AliasViolation',
    'Find-AsciiViolation',
    'Find-DscConfigurationViolation',
    'Find-DscResourceViolation',
    'Find-FileFunctionViolation',
    'Find-LayoutViolation',
    'Find-NetFrameworkViolation',
    'Find-ParameterShadowingViolation',
    'Find-ProcessStartViolation',
    'Find-Ps51CommandViolation',
    'Find-Ps51DotNetTrapViolation',
    'Find-Ps51SyntaxViolation',
    'Find-Ps51VariableViolation',
    'Find-PSScriptRootViolation',
    'Find-StringVariableViolation',
    'Find-WriteHostViolation',
    'Get-FunctionParameterAst',
    'Get-NetFrameworkReferencePath',
    'Initialize-NetFrameworkReference',
    'Read-RuleSource'
)
