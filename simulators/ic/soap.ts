/**
 * Invoice Cloud simulator: SOAP 1.1 as an ASP.NET .asmx service speaks it (contracts D) —
 * the method named by SOAPAction, its `<Req>` parameters read from the envelope, results and
 * faults written back. Nothing about invoices in here.
 */
import type { FastifyReply } from 'fastify';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export const IC_NAMESPACE = 'https://www.invoicecloud.com/portal/webservices/CloudInvoicing/';
export const IC_ENDPOINT = '/portal/webservices/CloudInvoicing.asmx';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
/** A 100,000-invoice file is ~20 MB, ~27 MB once base64-encoded inside the envelope. */
export const BODY_LIMIT = 64 * 1024 * 1024;
export const AUTH_FAILED = 'Authentication failed: invalid BillerGUID or WebServiceKey';
export const METHODS = ['UploadInvoiceFile', 'ViewInvoiceByInvoiceNumber'] as const;
export type IcMethod = (typeof METHODS)[number];

export type Fields = Record<string, string | number | boolean>;

const XML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Named entities only: every XML parser decodes these five, not all decode numeric references by default. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]);
}

function envelope(inner: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENV}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
    `xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>${inner}</soap:Body></soap:Envelope>`
  );
}

export function resultEnvelope(method: IcMethod, fields: Fields): string {
  const body = Object.entries(fields)
    .map(([name, value]) => {
      const text = xmlEscape(String(value));
      return text === '' ? `<${name}/>` : `<${name}>${text}</${name}>`;
    })
    .join('');
  return envelope(
    `<${method}Response xmlns="${IC_NAMESPACE}"><${method}Result>${body}</${method}Result></${method}Response>`,
  );
}

export function soapFault(faultCode: 'soap:Client' | 'soap:Server', faultString: string): string {
  return envelope(
    `<soap:Fault><faultcode>${faultCode}</faultcode><faultstring>${xmlEscape(faultString)}</faultstring>` +
      '<detail/></soap:Fault>',
  );
}

export function sendXml(reply: FastifyReply, status: number, xml: string): FastifyReply {
  return reply.code(status).type('text/xml; charset=utf-8').send(xml);
}

export class SoapClientError extends Error {}

export type XmlNode = Record<string, unknown>;

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const xmlParser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  // Keep every value a string: invoice numbers like 040620220901 must keep their leading zero.
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
});

/** `"https://…/CloudInvoicing/UploadInvoiceFile"` → `UploadInvoiceFile`, or throws a client fault. */
export function methodFromSoapAction(header: string | string[] | undefined): IcMethod {
  if (typeof header !== 'string' || header.trim() === '') {
    throw new SoapClientError('Missing SOAPAction HTTP header.');
  }
  const action = header.trim().replace(/^"(.*)"$/, '$1');
  const method = action.startsWith(IC_NAMESPACE) ? action.slice(IC_NAMESPACE.length) : '';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new SoapClientError(`Server did not recognize the value of HTTP Header SOAPAction: ${action}.`);
  }
  return method as IcMethod;
}

/**
 * fast-xml-parser needs seconds for a 27 MB text node, while base64 holds no markup at all:
 * the FileContent value is lifted out with a linear regex and only the small rest is parsed.
 */
const FILE_CONTENT = /(<(?:[\w.-]+:)?FileContent(?:\s[^>]*)?>)([^<]*)(<\/(?:[\w.-]+:)?FileContent\s*>)/;

function liftFileContent(xml: string): { rest: string; fileContent: string | null } {
  const match = FILE_CONTENT.exec(xml);
  if (!match) return { rest: xml, fileContent: null };
  const rest = xml.slice(0, match.index) + match[1] + match[3] + xml.slice(match.index + match[0].length);
  return { rest, fileContent: match[2] };
}

/** Returns the `<Req>` element's children of a well-formed envelope whose body element matches the action. */
export function requestFields(rawXml: string, method: IcMethod): XmlNode {
  if (rawXml.trim() === '') throw new SoapClientError('The request body is empty; expected a SOAP envelope.');
  const { rest: xml, fileContent } = liftFileContent(rawXml);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new SoapClientError(
      `The request is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}).`,
    );
  }
  const doc: unknown = xmlParser.parse(xml);
  const body = isNode(doc) && isNode(doc.Envelope) ? doc.Envelope.Body : undefined;
  if (!isNode(body)) throw new SoapClientError('The request is not a SOAP 1.1 envelope with a Body.');
  const call = body[method];
  if (!isNode(call)) {
    const found = Object.keys(body).join(', ') || 'nothing';
    throw new SoapClientError(`SOAPAction names ${method} but the Body contains ${found}.`);
  }
  if (!isNode(call.Req)) throw new SoapClientError(`${method} must wrap its parameters in <Req>.`);
  return fileContent !== null && 'FileContent' in call.Req
    ? { ...call.Req, FileContent: fileContent }
    : call.Req;
}

export function text(node: XmlNode, name: string): string {
  const value = node[name];
  return typeof value === 'string' ? value : '';
}
