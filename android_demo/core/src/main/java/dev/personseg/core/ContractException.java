package dev.personseg.core;

/** The model contract is malformed or asks for something the demo cannot do; the message says which. */
public class ContractException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ContractException(String message) {
        super(message);
    }
}
