# Activate with "overlay use bin/activate.nu"; "deactivate" (or "overlay hide activate")
# leaves. Written by wasipy from shims/activate/activate.nu.

export-env {
    def has-env [...names] { $names | each {|n| $n in $env } | all {|i| $i == true} }

    let virtual_env = {{ VIRTUAL_ENV_DIR }}
    let path_name = (if (has-env 'Path') { 'Path' } else { 'PATH' })
    let venv_bin = ([$virtual_env 'bin'] | path join)
    let old_path = ($env | get $path_name)
    let old_path = (if ($old_path | describe) == 'string' { $old_path | split row (char esep) } else { $old_path })
    let new_path = ($old_path | prepend $venv_bin)
    let virtual_env_prompt = {{ VIRTUAL_PROMPT }}

    let new_env = { $path_name: $new_path VIRTUAL_ENV: $virtual_env VIRTUAL_ENV_PROMPT: $virtual_env_prompt }

    let new_env = if (has-env 'VIRTUAL_ENV_DISABLE_PROMPT') {
        $new_env
    } else {
        let virtual_prefix = $'(char lparen)($virtual_env_prompt)(char rparen) '
        let old_prompt_command = if (has-env 'PROMPT_COMMAND') { $env.PROMPT_COMMAND } else { '' }
        let new_prompt = if (has-env 'PROMPT_COMMAND') {
            if 'closure' in ($old_prompt_command | describe) {
                {|| $'($virtual_prefix)(do $old_prompt_command)' }
            } else {
                {|| $'($virtual_prefix)($old_prompt_command)' }
            }
        } else {
            {|| $'($virtual_prefix)' }
        }
        $new_env | merge { PROMPT_COMMAND: $new_prompt VIRTUAL_PREFIX: $virtual_prefix }
    }

    load-env $new_env
}

export alias deactivate = overlay hide activate
