# This file must be sourced from csh or tcsh: "source bin/activate.csh".
# Written by wasipy from shims/activate/activate.csh.

set newline='\
'

alias deactivate 'test $?_OLD_VIRTUAL_PATH != 0 && setenv PATH "$_OLD_VIRTUAL_PATH:q" && unset _OLD_VIRTUAL_PATH; rehash; test $?_OLD_VIRTUAL_PROMPT != 0 && set prompt="$_OLD_VIRTUAL_PROMPT:q" && unset _OLD_VIRTUAL_PROMPT; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; test "\!:*" != "nondestructive" && unalias deactivate'

# Leave any previously active venv first.
deactivate nondestructive

setenv VIRTUAL_ENV {{ VIRTUAL_ENV_DIR }}

set _OLD_VIRTUAL_PATH="$PATH:q"
setenv PATH "$VIRTUAL_ENV:q/bin:$PATH:q"

setenv VIRTUAL_ENV_PROMPT {{ VIRTUAL_PROMPT }}

if ( $?VIRTUAL_ENV_DISABLE_PROMPT ) then
    if ( "$VIRTUAL_ENV_DISABLE_PROMPT" == "" ) then
        set do_prompt = "1"
    else
        set do_prompt = "0"
    endif
else
    set do_prompt = "1"
endif

if ( $do_prompt == "1" ) then
    # Non-interactive shells have no $prompt, and need none.
    if ( $?prompt ) then
        set _OLD_VIRTUAL_PROMPT="$prompt:q"
        if ( "$prompt:q" =~ *"$newline:q"* ) then
            :
        else
            set prompt = '('"$VIRTUAL_ENV_PROMPT:q"') '"$prompt:q"
        endif
    endif
endif

unset do_prompt
unset newline
rehash
