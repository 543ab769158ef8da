# Dot-source from PowerShell: ". bin/Activate.ps1"; "deactivate" leaves.
# Written by wasipy from shims/activate/Activate.ps1.

function global:deactivate([switch] $NonDestructive) {
    if (Test-Path variable:_OLD_VIRTUAL_PATH) {
        $env:PATH = $variable:_OLD_VIRTUAL_PATH
        Remove-Variable "_OLD_VIRTUAL_PATH" -Scope global
    }
    if (Test-Path variable:_OLD_VIRTUAL_PYTHONHOME) {
        $env:PYTHONHOME = $variable:_OLD_VIRTUAL_PYTHONHOME
        Remove-Variable "_OLD_VIRTUAL_PYTHONHOME" -Scope global
    }
    if (Test-Path function:_old_virtual_prompt) {
        $function:prompt = $function:_old_virtual_prompt
        Remove-Item function:\_old_virtual_prompt
    }
    if (Test-Path env:VIRTUAL_ENV) { Remove-Item env:VIRTUAL_ENV }
    if (Test-Path env:VIRTUAL_ENV_PROMPT) { Remove-Item env:VIRTUAL_ENV_PROMPT }
    if (-not $NonDestructive) { Remove-Item function:deactivate }
}

# Leave any previously active venv first.
deactivate -NonDestructive

$env:VIRTUAL_ENV = {{ VIRTUAL_ENV_DIR }}
$env:VIRTUAL_ENV_PROMPT = {{ VIRTUAL_PROMPT }}

if (Test-Path env:PYTHONHOME) {
    New-Variable -Scope global -Name _OLD_VIRTUAL_PYTHONHOME -Value $env:PYTHONHOME
    Remove-Item env:PYTHONHOME
}

if (-not $env:VIRTUAL_ENV_DISABLE_PROMPT) {
    function global:_old_virtual_prompt { "" }
    $function:_old_virtual_prompt = $function:prompt
    function global:prompt {
        Write-Host -NoNewline "($env:VIRTUAL_ENV_PROMPT) "
        _old_virtual_prompt
    }
}

New-Variable -Scope global -Name _OLD_VIRTUAL_PATH -Value $env:PATH
$env:PATH = (Join-Path $env:VIRTUAL_ENV "bin") + [System.IO.Path]::PathSeparator + $env:PATH
